/**
 * Translation between Matrix event contents and MSN text, in both directions. Pure functions:
 * everything here is testable without a homeserver or a socket.
 */
import type { MatrixMessageContent } from "./matrix-port.js";
import type { MsnTextFormat } from "./msn-ports.js";

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Removes C0/C1 control characters (NUL breaks homeservers on PostgreSQL; others are invisible
 * tricks), keeping line breaks and tabs in message bodies.
 */
export function stripControls(text: string, keepLineBreaks = false): string {
  let out = "";
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    const control = c < 0x20 || (c >= 0x7f && c < 0xa0);
    if (!control || (keepLineBreaks && (ch === "\n" || ch === "\t"))) out += ch;
  }
  return out;
}

/** A friendly name fit for a Matrix display name: no controls, at most 256 characters, never empty. */
export function displayNameFor(friendlyName: string, email: string): string {
  const clean = stripControls(friendlyName).trim().slice(0, 256);
  return clean || email;
}

/** `text` comes from the protocol client with line breaks already normalised to LF. */
export function msnTextToMatrix(text: string, format?: MsnTextFormat): MatrixMessageContent {
  const body = stripControls(text, true);
  const content: MatrixMessageContent = { msgtype: "m.text", body };
  if (!format) return content;
  let html = escapeHtml(body).replace(/\n/g, "<br>");
  let styled = false;
  const wrap = (tag: string, on: boolean | undefined): void => {
    if (on) {
      html = `<${tag}>${html}</${tag}>`;
      styled = true;
    }
  };
  wrap("strong", format.bold);
  wrap("em", format.italic);
  wrap("u", format.underline);
  wrap("del", format.strikethrough);
  // Black is every client's default text colour; painting it would fight dark themes.
  if (format.color && /^#[0-9a-f]{6}$/i.test(format.color) && format.color.toLowerCase() !== "#000000") {
    html = `<font color="${format.color.toLowerCase()}">${html}</font>`;
    styled = true;
  }
  if (styled) {
    content.format = "org.matrix.custom.html";
    content.formatted_body = html;
  }
  return content;
}

export type OutgoingText = { kind: "text"; text: string } | { kind: "unsupported"; reason: string };

interface RelatesTo {
  rel_type?: unknown;
  "m.in_reply_to"?: unknown;
}

/** Drops the quoted fallback that older clients put in front of a reply's body. */
export function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  if (!lines[0]?.startsWith("> ")) return body;
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(">")) i++;
  if (i < lines.length && lines[i] === "") i++;
  return lines.slice(i).join("\n");
}

/**
 * What an `m.room.message` from a Matrix user becomes on MSN. MSN carries plain text only:
 * media travels as a link, edits and unknown message types are refused with a reason.
 */
export function matrixMessageToMsn(
  content: Record<string, unknown>,
  mediaUrl: (mxc: string) => string | null,
): OutgoingText {
  const relates = (content["m.relates_to"] ?? {}) as RelatesTo;
  if (relates.rel_type === "m.replace") return { kind: "unsupported", reason: "MSN cannot edit messages" };
  const msgtype = content.msgtype;
  // Controls go the same way as from MSN: dropped (NUL ends a string in MSN clients), line
  // breaks and tabs kept, every CR or CRLF made one LF (the protocol client writes CRLF).
  const rawBody =
    typeof content.body === "string" ? stripControls(content.body.replace(/\r\n?/g, "\n"), true) : null;
  if (rawBody === null) return { kind: "unsupported", reason: "the message has no text body" };
  const body = relates["m.in_reply_to"] ? stripReplyFallback(rawBody) : rawBody;
  switch (msgtype) {
    case "m.text":
    case "m.notice":
      return body.length > 0
        ? { kind: "text", text: body }
        : { kind: "unsupported", reason: "empty message" };
    case "m.emote":
      return { kind: "text", text: `* ${body}` };
    case "m.image":
    case "m.file":
    case "m.video":
    case "m.audio": {
      const url = typeof content.url === "string" ? mediaUrl(content.url) : null;
      if (!url) return { kind: "unsupported", reason: "MSN cannot receive files, and this one has no link" };
      return { kind: "text", text: `${body}: ${url}` };
    }
    case "m.location": {
      const geo = typeof content.geo_uri === "string" ? content.geo_uri : "";
      return { kind: "text", text: geo ? `${body} (${geo})` : body };
    }
    default:
      return { kind: "unsupported", reason: `messages of type ${String(msgtype)} cannot be sent to MSN` };
  }
}

export function notBridgedNotice(reason: string, replyTo: string): MatrixMessageContent {
  return {
    msgtype: "m.notice",
    body: `⚠️ Your message was not bridged: ${reason}`,
    "m.relates_to": { "m.in_reply_to": { event_id: replyTo } },
  };
}
