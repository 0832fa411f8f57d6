import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { helpText, parseArguments, runCommand, type CommandContext } from "../../../src/matrix/commands.js";
import type { BridgeCore } from "../../../src/bridge/core.js";

function context(core: Partial<BridgeCore>): { ctx: CommandContext; replies: string[]; redactions: number } {
  const state = { replies: [] as string[], redactions: 0 };
  const ctx: CommandContext = {
    core: core as BridgeCore,
    userId: "@u:hs",
    roomId: "!m:hs",
    eventId: "$e",
    redactCommand: async () => {
      state.redactions++;
      return true;
    },
    reply: async (t) => {
      state.replies.push(t);
    },
  };
  return {
    ctx,
    get replies() {
      return state.replies;
    },
    get redactions() {
      return state.redactions;
    },
  };
}

describe("command parsing", () => {
  test("rest-of-line arguments keep inner spaces", () => {
    assert.deepEqual(parseArguments("bob@x.y my secret pw ", { max: 2, restOfLine: true }), [
      "bob@x.y",
      "my secret pw",
    ]);
    assert.deepEqual(parseArguments("  Cool   Name ", { max: 1, restOfLine: true }), ["Cool   Name"]);
    assert.deepEqual(parseArguments("a  b", { max: 2 }), ["a", "b"]);
    assert.deepEqual(parseArguments("   ", { max: 2 }), []);
  });

  test("help lists every command with its help line", () => {
    for (const name of [
      "help",
      "login",
      "logout",
      "status",
      "contacts",
      "chat",
      "add",
      "remove",
      "presence",
      "nick",
      "reconnect",
    ]) {
      assert.match(helpText(), new RegExp("`" + name));
    }
  });
});

describe("running commands", () => {
  test("login redacts the password message before anything else and passes the whole password", async () => {
    const calls: string[] = [];
    const t = context({
      login: async (_u: string, email: string, pw: string) => {
        calls.push(`${email}|${pw}`);
        return "ok";
      },
    });
    await runCommand(t.ctx, "login bob@x.y pass word");
    assert.equal(t.redactions, 1);
    assert.deepEqual(calls, ["bob@x.y|pass word"]);
    assert.equal(t.replies.at(-1), "ok");
  });

  test("a login with missing arguments is still redacted and answered with usage", async () => {
    const t = context({});
    await runCommand(t.ctx, "login onlyapassword");
    assert.equal(t.redactions, 1);
    assert.match(t.replies[0]!, /^Usage: `login <email> <password>`/);
  });

  test("unknown commands and wrong argument counts get a helpful reply", async () => {
    const t = context({});
    await runCommand(t.ctx, "frobnicate now");
    await runCommand(t.ctx, "chat");
    await runCommand(t.ctx, "status extra");
    assert.match(t.replies[0]!, /Unknown command `frobnicate`.*help/);
    assert.match(t.replies[1]!, /Usage: `chat <email>`/);
    assert.match(t.replies[2]!, /Usage: `status`/);
  });

  test("an invalid presence word lists the valid ones", async () => {
    const t = context({ setPresence: async () => undefined });
    await runCommand(t.ctx, "presence sleepy");
    assert.match(t.replies[0]!, /Unknown status `sleepy`.*online, busy, away/);
  });

  test("errors from the core are answered, not thrown", async () => {
    const t = context({
      addContact: async () => {
        throw Object.assign(new Error("server said 205"), { code: 205 });
      },
    });
    await runCommand(t.ctx, "add nobody@x.y");
    assert.equal(t.replies[0], "❌ add failed: there is no MSN account with that address.");
  });
});
