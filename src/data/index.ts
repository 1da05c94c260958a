/**
 * `data`: datasets as tfjs-data's (`data.array`, `data.generator`, `data.zip`, `data.csv`,
 * `data.textLines`), whose iterators can be saved and resumed at the next element.
 */
import { array, generator, zip } from './sources.js';
import { csv } from './csv.js';
import { textLines } from './text.js';

export const data = { array, generator, zip, csv, textLines };

export { Dataset, type DatasetIterator, type Position } from './dataset.js';
export { DataError, type RecordPlace } from './errors.js';
export { type DataElement, encodeValue, decodeValue } from './element.js';
export type { GeneratorOptions } from './sources.js';
export type { CsvOptions, ColumnConfig, ColumnDtype, CsvElement, CsvRow } from './csv.js';
export type { SourceLike, SourceOptions } from './byte-source.js';
