/**
 * Parser throughput: the MSNP framing decoder plus the MIME classifier over a generated stream
 * shaped like a recorded session (presence bursts, chat messages with multibyte text, typing
 * controls), fed in the chunk sizes TCP reads actually deliver. The work per command matches what
 * the sessions do on receipt: frame it, then decode the friendly name or classify the payload.
 */
import { CommandDecoder, decodeParam, encodeParam } from "../src/msnp/index.js";
import { buildTextFormat, classifyMessage } from "../src/msnp/mime.js";
import { summarize } from "./lib/stats.js";
import type { Figure } from "./lib/table.js";

const TEXTS = [
  "hey, are you there?",
  "Grüße aus Köln — ça va? ünïcødé ✓",
  "日本語のメッセージです。元気ですか？",
  "lol 😀😀 see you at 8 ♥",
  "A longer message that someone pasted into the window, with a URL https://example.com/some/path?x=1 and a second sentence to make it a realistic paragraph of chat text.",
  "two lines\r\nsecond line",
];
const NAMES = ["Bob Builder", "Carol ♥", "Dave (away from keyboard)", "Ève 日本", "xXx_M4st3r_xXx"];
const STATUSES = ["NLN", "AWY", "BSY", "IDL", "BRB"];
const FONTS = ["Segoe UI", "Arial", "Comic Sans MS", "Tahoma", "Times New Roman", "MS Shell Dlg", "Verdana"];
const CONTACTS = 97;

/**
 * Each contact's client sends its user's own X-MMS-IM-Format with every message, so the stream
 * carries as many distinct format values as there are contacts talking (not one shared value).
 */
function contactFormat(contact: number): string {
  return buildTextFormat({
    font: FONTS[contact % FONTS.length]!,
    bold: contact % 3 === 0,
    italic: contact % 5 === 0,
    color: `#${((contact * 2654435761) >>> 8).toString(16).padStart(6, "0").slice(-6)}`,
    charset: contact % 4 === 0 ? 0x80 : 0,
    pitchFamily: contact % 2 === 0 ? 0x22 : 0x31,
  });
}

function mime(contentType: string, extraHeaders: string, body: string): Buffer {
  return Buffer.from(
    `MIME-Version: 1.0\r\nContent-Type: ${contentType}\r\n${extraHeaders}\r\n${body}`,
    "utf8",
  );
}

/** What a correct parse of the stream must find (checked after every timed pass). */
interface StreamContents {
  commands: number;
  texts: number;
  typing: number;
  /** Sum of the lengths of decoded texts, their fonts, friendly names and typing users. */
  chars: number;
}

/**
 * A deterministic stream of about `targetBytes`. The mix (per 10 commands: 3 presence, 5 texts,
 * 2 typing) is roughly what a busy session with a full contact list looks like on the wire.
 */
export function generateStream(targetBytes: number): { stream: Buffer } & StreamContents {
  const parts: Buffer[] = [];
  const formats = Array.from({ length: CONTACTS }, (_, contact) => contactFormat(contact));
  const expected: StreamContents = { commands: 0, texts: 0, typing: 0, chars: 0 };
  let size = 0;
  for (let i = 0; size < targetBytes; i++) {
    const contact = i % CONTACTS;
    const email = `contact${contact}@hotmail.test`;
    const friendlyName = NAMES[i % NAMES.length]!;
    const name = encodeParam(friendlyName);
    let part: Buffer;
    switch (i % 10) {
      case 0:
        part = Buffer.from(`ILN 8 ${STATUSES[i % STATUSES.length]} ${email} ${name} 1342177280\r\n`, "utf8");
        expected.chars += friendlyName.length;
        break;
      case 1:
      case 2:
        part = Buffer.from(`NLN ${STATUSES[i % STATUSES.length]} ${email} ${name} 1342177280\r\n`, "utf8");
        expected.chars += friendlyName.length;
        break;
      case 3:
      case 7: {
        const payload = mime("text/x-msmsgscontrol", `TypingUser: ${email}\r\n`, "\r\n");
        part = Buffer.concat([Buffer.from(`MSG ${email} ${name} ${payload.length}\r\n`), payload]);
        expected.typing++;
        expected.chars += email.length;
        break;
      }
      default: {
        const text = TEXTS[i % TEXTS.length]!;
        const payload = mime("text/plain; charset=UTF-8", `X-MMS-IM-Format: ${formats[contact]}\r\n`, text);
        part = Buffer.concat([Buffer.from(`MSG ${email} ${name} ${payload.length}\r\n`), payload]);
        expected.texts++;
        expected.chars += text.replace(/\r\n/g, "\n").length + FONTS[contact % FONTS.length]!.length;
      }
    }
    parts.push(part);
    size += part.length;
    expected.commands++;
  }
  return { stream: Buffer.concat(parts), ...expected };
}

/**
 * Decodes the whole stream once in `chunkSize` pieces; returns what it found (a check). Each read
 * is handled by its own function call, as a socket's 'data' listener is. With the loop over a
 * read's commands written inside the loop over reads, a process that started with 64 KiB reads
 * compiled the harness with on-stack replacement and threw that code away at the end of every
 * read (`--trace-deopt`: "exit from OSR'd inner loop", 37 times in 8 passes), so the harness's
 * own deopts could land in the parser's figures. (In the suite's order, 1460 B reads first, it
 * did not happen.)
 */
function parseOnce(stream: Buffer, chunkSize: number): StreamContents {
  const decoder = new CommandDecoder();
  const seen: StreamContents = { commands: 0, texts: 0, typing: 0, chars: 0 };
  const onData = (chunk: Buffer): void => {
    for (const command of decoder.push(chunk)) {
      seen.commands++;
      if (command.payload) {
        const message = classifyMessage(command.payload);
        if (message.kind === "text") {
          seen.texts++;
          // The format is forwarded with the text, so its font is checked too.
          seen.chars += message.text.length + (message.format?.font?.length ?? 0);
        } else if (message.kind === "typing") {
          seen.typing++;
          seen.chars += message.typingUser?.length ?? 0;
        }
      } else {
        // ILN/NLN: the friendly name precedes the client id, as the dialect parsers read it.
        seen.chars += decodeParam(command.args.at(-2) ?? "").length;
      }
    }
  };
  // Each read gets its own Buffer view, as a socket's 'data' events do.
  for (let offset = 0; offset < stream.length; offset += chunkSize) {
    onData(stream.subarray(offset, offset + chunkSize));
  }
  return seen;
}

export interface ParserBenchOptions {
  /** Stream size in bytes. */
  streamBytes: number;
  /** Timed passes per chunk size (after the warm-up passes). */
  runs: number;
  chunkSizes: readonly number[];
}

/**
 * Untimed passes per chunk size before the timed ones. The first pass runs largely in the
 * interpreter and baseline tiers; the second lets the last optimisations land (a long-lived
 * bridge runs in that steady state).
 */
const WARM_UP_PASSES = 2;
const MIN_SAMPLE_SECONDS = 0.05;

/**
 * CPU time of this thread (Node ≥ 23.9), else of the process (which adds the GC helper threads).
 * On a shared machine wall-clock rates drop with the load; the CPU-time rate shows the parser's
 * own cost, so both are reported.
 */
function cpuMicros(): number {
  const usage = typeof process.threadCpuUsage === "function" ? process.threadCpuUsage() : process.cpuUsage();
  return usage.user + usage.system;
}

export function runParserBench(opts: ParserBenchOptions): Figure[] {
  const { stream, ...expected } = generateStream(opts.streamBytes);
  const expectedText = JSON.stringify(expected);
  for (let pass = 0; pass < WARM_UP_PASSES; pass++) {
    for (const chunkSize of opts.chunkSizes) parseOnce(stream, chunkSize);
  }
  const rates = opts.chunkSizes.map((): number[] => []);
  const cpuRates = opts.chunkSizes.map((): number[] => []);
  // Rounds over all chunk sizes rather than all runs of one size after another: the shared
  // machine's load drifts, and this spreads the drift over the sizes instead of onto one of them.
  for (let run = 0; run < opts.runs; run++) {
    opts.chunkSizes.forEach((chunkSize, index) => {
      const cpuStart = cpuMicros();
      const start = process.hrtime.bigint();
      // A sample spans at least MIN_SAMPLE_SECONDS: the CPU clock ticks in milliseconds, and a
      // small stream (the quick variant) parses faster than that.
      let passes = 0;
      let seconds = 0;
      do {
        const seen = parseOnce(stream, chunkSize);
        // A parser that got faster by getting something wrong must not produce a figure.
        if (JSON.stringify(seen) !== expectedText) {
          throw new Error(`parser found ${JSON.stringify(seen)}, stream has ${expectedText}`);
        }
        passes++;
        seconds = Number(process.hrtime.bigint() - start) / 1e9;
      } while (seconds < MIN_SAMPLE_SECONDS);
      const cpuSeconds = (cpuMicros() - cpuStart) / 1e6;
      rates[index]!.push((passes * stream.length) / 1e6 / seconds);
      cpuRates[index]!.push((passes * stream.length) / 1e6 / cpuSeconds);
    });
  }
  return opts.chunkSizes.flatMap((chunkSize, index): Figure[] => [
    {
      group: "parser",
      name: `framing+MIME, ${chunkSize} B reads`,
      unit: "MB/s",
      summary: summarize(rates[index]!),
      target: "≥ 200 MB/s",
    },
    {
      group: "parser",
      name: `framing+MIME, ${chunkSize} B reads, per CPU-second`,
      unit: "MB/s",
      summary: summarize(cpuRates[index]!),
      target: "",
    },
  ]);
}
