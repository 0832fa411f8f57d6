/**
 * The bot's commands in the management room. Each command carries its usage and help line, so
 * `help` and every "wrong arguments" reply come from the same table.
 */
import type { BridgeCore } from "../bridge/core.js";
import { UserFacingError } from "../bridge/errors.js";
import { PRESENCE_WORDS, STATUS_LABEL } from "../bridge/presence.js";
import { describeMsnError } from "../bridge/errors.js";

export interface CommandContext {
  core: BridgeCore;
  userId: string;
  roomId: string;
  eventId: string;
  /** Removes the command message from the room (the bot's redaction); false when not allowed. */
  redactCommand(reason: string): Promise<boolean>;
  reply(text: string): Promise<void>;
}

interface Command {
  name: string;
  usage: string;
  help: string;
  /** Fewest and most whitespace-separated arguments; the last one may take the rest of the line. */
  min: number;
  max: number;
  restOfLine?: boolean;
  run(ctx: CommandContext, args: string[]): Promise<string | undefined>;
}

const COMMANDS: Command[] = [
  {
    name: "help",
    usage: "help",
    help: "Show this list.",
    min: 0,
    max: 1,
    run: async () => helpText(),
  },
  {
    name: "login",
    usage: "login <email> <password>",
    help: "Log in to MSN. I delete the message with your password right away.",
    min: 2,
    max: 2,
    restOfLine: true,
    async run(ctx, [email, password]) {
      const redacted = await ctx.redactCommand("contains a password");
      if (!redacted) {
        await ctx.reply("⚠️ I could not delete your message with the password: please delete it yourself.");
      }
      await ctx.reply(`Logging in to MSN as ${email}…`);
      return ctx.core.login(ctx.userId, email!, password!);
    },
  },
  {
    name: "logout",
    usage: "logout",
    help: "Log out of MSN and forget your password.",
    min: 0,
    max: 0,
    run: (ctx) => ctx.core.logout(ctx.userId),
  },
  {
    name: "status",
    usage: "status",
    help: "Show the connection state, protocol version and how many contacts are online.",
    min: 0,
    max: 0,
    run: async (ctx) => ctx.core.status(ctx.userId),
  },
  {
    name: "contacts",
    usage: "contacts",
    help: "List your MSN contacts with their status.",
    min: 0,
    max: 0,
    async run(ctx) {
      const list = ctx.core.contacts(ctx.userId);
      if (list.length === 0) return "Your contact list is empty. Add someone with `add <email>`.";
      const sorted = [...list].sort(
        (a, b) => Number(a.status === "FLN") - Number(b.status === "FLN") || a.email.localeCompare(b.email),
      );
      const lines = sorted.map(
        (c) => `• ${c.friendlyName || c.email} (${c.email}) — ${STATUS_LABEL[c.status]}`,
      );
      const online = list.filter((c) => c.status !== "FLN").length;
      return `${online} of ${list.length} contacts online:\n${lines.join("\n")}`;
    },
  },
  {
    name: "chat",
    usage: "chat <email>",
    help: "Open (or find again) the chat room with a contact.",
    min: 1,
    max: 1,
    async run(ctx, [email]) {
      const { roomId, created } = await ctx.core.openChat(ctx.userId, email!);
      return created
        ? `I invited you to a new chat with ${email}: ${roomId}`
        : `Your chat with ${email} is ${roomId}; I re-invited you if you were not in it.`;
    },
  },
  {
    name: "add",
    usage: "add <email>",
    help: "Add a contact to your MSN list.",
    min: 1,
    max: 1,
    async run(ctx, [email]) {
      await ctx.core.addContact(ctx.userId, email!);
      return `Added ${email} to your contact list.`;
    },
  },
  {
    name: "remove",
    usage: "remove <email>",
    help: "Remove a contact from your MSN list.",
    min: 1,
    max: 1,
    async run(ctx, [email]) {
      await ctx.core.removeContact(ctx.userId, email!);
      return `Removed ${email} from your contact list.`;
    },
  },
  {
    name: "presence",
    usage: `presence <${Object.keys(PRESENCE_WORDS).join("|")}>`,
    help: "Set your MSN status.",
    min: 1,
    max: 1,
    async run(ctx, [word]) {
      const status = PRESENCE_WORDS[word!.toLowerCase()];
      if (!status)
        throw new UserFacingError(
          `Unknown status \`${word}\`. Use one of: ${Object.keys(PRESENCE_WORDS).join(", ")}.`,
        );
      await ctx.core.setPresence(ctx.userId, status);
      return `Your MSN status is now ${STATUS_LABEL[status]}.`;
    },
  },
  {
    name: "nick",
    usage: "nick <friendly name>",
    help: "Change your MSN friendly name.",
    min: 1,
    max: 1,
    restOfLine: true,
    async run(ctx, [name]) {
      // The name is URL-encoded on the wire, so nothing could be injected; but contacts' clients
      // would show raw line breaks and control codes, so they are refused here.
      if ([...name!].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
        throw new UserFacingError("A friendly name cannot contain line breaks or other control characters.");
      }
      await ctx.core.setNick(ctx.userId, name!);
      return `Your MSN friendly name is now “${name}”.`;
    },
  },
  {
    name: "reconnect",
    usage: "reconnect",
    help: "Reconnect to MSN now (also after you logged in somewhere else).",
    min: 0,
    max: 0,
    run: (ctx) => ctx.core.reconnect(ctx.userId),
  },
];

export function helpText(): string {
  return ["Commands:", ...COMMANDS.map((c) => `\`${c.usage}\` — ${c.help}`)].join("\n");
}

/** Splits a command line; with `restOfLine`, the last argument keeps its inner spaces. */
export function parseArguments(rest: string, cmd: Pick<Command, "max" | "restOfLine">): string[] {
  const trimmed = rest.trim();
  if (trimmed === "") return [];
  if (!cmd.restOfLine) return trimmed.split(/\s+/);
  const parts: string[] = [];
  let remaining = trimmed;
  while (parts.length < cmd.max - 1) {
    const m = /^(\S+)\s*(.*)$/s.exec(remaining);
    if (!m) break;
    parts.push(m[1]!);
    remaining = m[2]!;
  }
  if (remaining !== "") parts.push(remaining);
  return parts;
}

/** Runs one management-room message as a command; always answers. */
export async function runCommand(ctx: CommandContext, body: string): Promise<void> {
  const line = body.trim().replace(/^!msn\s+/i, "");
  const m = /^(\S+)\s*(.*)$/s.exec(line);
  if (!m) return;
  const name = m[1]!.toLowerCase();
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    await ctx.reply(`Unknown command \`${m[1]!.slice(0, 40)}\`. Say \`help\` for the list.`);
    return;
  }
  const args = parseArguments(m[2]!, cmd);
  if (args.length < cmd.min || args.length > cmd.max) {
    if (cmd.name === "login") await ctx.redactCommand("contains a password").catch(() => false);
    await ctx.reply(`Usage: \`${cmd.usage}\` — ${cmd.help}`);
    return;
  }
  try {
    const answer = await cmd.run(ctx, args);
    if (answer) await ctx.reply(answer);
  } catch (e) {
    await ctx.reply(
      e instanceof UserFacingError ? e.message : `❌ ${cmd.name} failed: ${describeMsnError(e)}.`,
    );
  }
}
