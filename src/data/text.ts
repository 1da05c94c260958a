/** `textLines`: a text file's lines, streamed; a position is the next line's byte offset and number. */
import { derived, type Dataset } from './dataset.js';
import { byteSource, type SourceLike, type SourceOptions } from './byte-source.js';
import { RecordReader, type RecordStart } from './records.js';

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/** Skips a UTF-8 byte-order mark at the start of a file: the first record starts after it. */
export async function firstRecord(source: ReturnType<typeof byteSource>): Promise<RecordStart> {
  const chunks = source.chunks(0);
  const first = await chunks.next();
  await chunks.return(undefined);
  const head = first.done ? new Uint8Array(0) : first.value;
  return { offset: UTF8_BOM.every((b, i) => head[i] === b) ? 3 : 0, line: 1 };
}

/** The lines of a text file (without their line ends), as tfjs-data's `TextLineDataset`. */
export function textLines(source: SourceLike, options: SourceOptions = {}): Dataset<string> {
  const bytes = byteSource(source, options);
  const decoder = new TextDecoder();
  return derived([], null, async (position) => {
    const reader = new RecordReader(bytes, (position as RecordStart | undefined) ?? (await firstRecord(bytes)), false);
    return {
      next: async () => {
        const record = await reader.next();
        return record === null ? { done: true, value: undefined } : { done: false, value: decoder.decode(record) };
      },
      position: (): RecordStart => ({ offset: reader.offset, line: reader.line }),
    };
  });
}
