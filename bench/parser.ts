/**
 * Parser throughput: the MSNP framing decoder plus the MIME classifier over a generated stream
 * shaped like a recorded session (presence bursts, chat messages with multibyte text, typing
 * controls), fed in the chunk sizes TCP reads actually deliver. The work per command matches what
 * the sessions do on receipt: frame it, then decode the friendly name or classify the payload.
 */
import { CommandDecoder, decodeParam, encodeParam } from "../src/msnp/index.js";
import { classifyMessage } from "../src/msnp/mime.js";
import { summarize } from "./lib/stats.js";
import type { Figure } from "./lib/table.js";

const TEXTS = [
  "hey, are you there?",
  "Grüße aus Köln — ça va? ünïcødé ✓",
  "日本語のメッセージです。元気ですか？",
  "lol 😀😀 see you at 8 ♥",
  "A longer message that someone pasted into the window, with a URL https://example.com/some/path?x=1 and a second sentence to make it a realistic paragraph of chat text.",
];
const NAMES = ["Bob Builder", "Carol ♥", "Dave (away from keyboard)", "Ève 日本", "xXx_M4st3r_xXx"];
const STATUSES = ["NLN", "AWY", "BSY", "IDL", "BRB"];

function mime(contentType: string, extraHeaders: string, body: string): Buffer {
  return Buffer.from(
    `MIME-Version: 1.0\r\nContent-Type: ${contentType}\r\n${extraHeaders}\r\n${body}`,
    "utf8",
  );
}

/**
 * A deterministic stream of about `targetBytes`. The mix (per 10 commands: 3 presence, 5 texts,
 * 2 typing) is roughly what a busy session with a full contact list looks like on the wire.
 */
export function generateStream(targetBytes: number): { stream: Buffer; commands: number } {
  const parts: Buffer[] = [];
  let size = 0;
  let commands = 0;
  for (let i = 0; size < targetBytes; i++) {
    const email = `contact${i % 97}@hotmail.test`;
    const name = encodeParam(NAMES[i % NAMES.length]!);
    let part: Buffer;
    switch (i % 10) {
      case 0:
        part = Buffer.from(`ILN 8 ${STATUSES[i % STATUSES.length]} ${email} ${name}\r\n`, "utf8");
        break;
      case 1:
      case 2:
        part = Buffer.from(`NLN ${STATUSES[i % STATUSES.length]} ${email} ${name}\r\n`, "utf8");
        break;
      case 3:
      case 7: {
        const payload = mime("text/x-msmsgscontrol", `TypingUser: ${email}\r\n`, "\r\n");
        part = Buffer.concat([Buffer.from(`MSG ${email} ${name} ${payload.length}\r\n`), payload]);
        break;
      }
      default: {
        const payload = mime(
          "text/plain; charset=UTF-8",
          "X-MMS-IM-Format: FN=Segoe%20UI; EF=B; CO=ff0000; CS=0; PF=22\r\n",
          TEXTS[i % TEXTS.length]!,
        );
        part = Buffer.concat([Buffer.from(`MSG ${email} ${name} ${payload.length}\r\n`), payload]);
      }
    }
    parts.push(part);
    size += part.length;
    commands++;
  }
  return { stream: Buffer.concat(parts), commands };
}

/** Decodes the whole stream once in `chunkSize` pieces; returns the commands seen (a check). */
function parseOnce(stream: Buffer, chunkSize: number): number {
  const decoder = new CommandDecoder();
  let seen = 0;
  let sink = 0;
  for (let offset = 0; offset < stream.length; offset += chunkSize) {
    // Each read gets its own Buffer view, as a socket's 'data' events do.
    for (const command of decoder.push(stream.subarray(offset, offset + chunkSize))) {
      seen++;
      if (command.payload) {
        const message = classifyMessage(command.payload);
        if (message.kind === "text") sink += message.text.length;
        else if (message.kind === "typing") sink += message.typingUser?.length ?? 0;
      } else {
        sink += decodeParam(command.args.at(-1) ?? "").length;
      }
    }
  }
  // Using the results keeps the optimiser from dropping the work.
  if (sink < 0) throw new Error("unreachable");
  return seen;
}

export interface ParserBenchOptions {
  /** Stream size in bytes. */
  streamBytes: number;
  /** Timed passes per chunk size (after one warm-up pass). */
  runs: number;
  chunkSizes: readonly number[];
}

export function runParserBench(opts: ParserBenchOptions): Figure[] {
  const { stream, commands } = generateStream(opts.streamBytes);
  const figures: Figure[] = [];
  for (const chunkSize of opts.chunkSizes) {
    // Warm-up: let the JIT settle so the runs measure steady state, as in a long-lived bridge.
    parseOnce(stream, chunkSize);
    const rates: number[] = [];
    for (let run = 0; run < opts.runs; run++) {
      const start = process.hrtime.bigint();
      const seen = parseOnce(stream, chunkSize);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (seen !== commands) throw new Error(`parser saw ${seen} commands, stream has ${commands}`);
      rates.push(stream.length / 1e6 / seconds);
    }
    figures.push({
      group: "parser",
      name: `framing+MIME, ${chunkSize} B reads`,
      unit: "MB/s",
      summary: summarize(rates),
      target: "≥ 200 MB/s",
    });
  }
  return figures;
}
