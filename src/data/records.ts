/**
 * Records from a byte stream, each with the byte offset and line it starts at: lines, or
 * CSV records (where a newline inside double quotes belongs to the field). Scanning is on
 * bytes — a newline or quote byte never occurs inside a UTF-8 character — so a record's
 * offset is exact and a reader can start at any record's offset.
 */
import type { ByteSource } from './byte-source.js';

const UTF8_BOM = [0xef, 0xbb, 0xbf];
const NEWLINE = 10,
  RETURN = 13,
  QUOTE = 34;

export interface RecordStart {
  /** Byte offset of the record's first byte. */
  offset: number;
  /** 1-based line it starts on. */
  line: number;
}

export class RecordReader {
  private buffer = new Uint8Array(0);
  private at = 0;
  /** The file offset of buffer[0]. */
  private base: number;
  private ended = false;
  /** Where the buffer's next quote is (its length if none), from the last scan on; -1: not searched yet. */
  private nextQuote = -1;
  /** Whether the first bytes of the file are still to come (a byte-order mark is skipped there). */
  private atFileStart: boolean;
  private readonly chunks: AsyncGenerator<Uint8Array, void, undefined>;
  /** Where the next record starts. */
  line: number;

  constructor(
    source: ByteSource,
    start: RecordStart,
    private readonly quoted: boolean,
  ) {
    this.base = start.offset;
    this.atFileStart = start.offset === 0;
    this.line = start.line;
    this.chunks = source.chunks(start.offset);
  }

  /** The byte offset of the next record. */
  get offset(): number {
    return this.base + this.at;
  }

  /** The next record's bytes (no line end; a trailing \r dropped), or null at the end. */
  async next(): Promise<Uint8Array | null> {
    let scan = this.at; // quotes are counted in [this.at, scan)
    let open = 0; // whether a quote is open at scan
    let newlines = 0;
    for (;;) {
      const buf = this.buffer;
      let end = buf.indexOf(NEWLINE, scan);
      while (end >= 0 && this.quoted) {
        // The buffer's next quote, found once: records before it need no counting.
        if (this.nextQuote < scan) this.nextQuote = indexOrEnd(buf, QUOTE, scan);
        if (this.nextQuote >= end && !open) break;
        open ^= quotesIn(buf, scan, end) & 1;
        scan = end + 1;
        if (!open) break;
        newlines++; // the newline is inside a quoted field: the record goes on
        end = buf.indexOf(NEWLINE, scan);
      }
      if (end >= 0 || (this.ended && this.at < buf.length)) {
        const stop = end >= 0 ? end : buf.length;
        const record = buf.subarray(this.at, stop > this.at && buf[stop - 1] === RETURN ? stop - 1 : stop);
        this.at = end >= 0 ? end + 1 : buf.length;
        this.line += 1 + newlines;
        return record;
      }
      if (this.ended) return null;
      const r = await this.chunks.next();
      if (r.done) {
        this.ended = true;
        continue;
      }
      // Keep the unfinished record, then the new chunk; scanning goes on where it stopped.
      const rest = buf.subarray(this.at);
      const joined = new Uint8Array(rest.length + r.value.length);
      joined.set(rest);
      joined.set(r.value, rest.length);
      this.base += this.at;
      scan -= this.at;
      this.at = 0;
      this.buffer = joined;
      this.nextQuote = -1;
      // A UTF-8 byte-order mark opening the file is no part of its first record.
      if (this.base === 0 && this.atFileStart) {
        const n = Math.min(3, joined.length);
        const mark = UTF8_BOM.slice(0, n).every((b, i) => joined[i] === b);
        if (mark && n < 3) continue; // too few bytes yet to tell
        this.atFileStart = false;
        if (mark) this.at = scan = 3;
      }
    }
  }

  /** Stops reading: the source's open request or file is released. */
  async close(): Promise<void> {
    await this.chunks.return(undefined);
  }
}

function indexOrEnd(buf: Uint8Array, byte: number, from: number): number {
  const i = buf.indexOf(byte, from);
  return i < 0 ? buf.length : i;
}

/** Quotes in buf[from, to): a loop over the record's bytes (indexOf would search on to the end of the buffer). */
function quotesIn(buf: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (buf[i] === QUOTE) n++;
  return n;
}
