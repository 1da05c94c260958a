/** `textLines`: a text file's lines, streamed; a position is the next line's byte offset and number. */
import { derived, type Dataset } from './dataset.js';
import { byteSource, type SourceLike, type SourceOptions } from './byte-source.js';
import { RecordReader, type RecordStart } from './records.js';

/** The lines of a text file (without their line ends), as tfjs-data's `TextLineDataset`. */
export function textLines(source: SourceLike, options: SourceOptions = {}): Dataset<string> {
  const bytes = byteSource(source, options);
  const decoder = new TextDecoder();
  return derived([], null, async (position) => {
    const reader = new RecordReader(bytes, (position as RecordStart | undefined) ?? { offset: 0, line: 1 }, false);
    return {
      next: async () => {
        const record = await reader.next();
        return record === null ? { done: true, value: undefined } : { done: false, value: decoder.decode(record) };
      },
      position: (): RecordStart => ({ offset: reader.offset, line: reader.line }),
    };
  });
}
