/**
 * `csv`: a CSV file's records as elements, streamed, as tfjs-data's `CSVDataset`: a plain
 * object per row keyed by column name, or `{ xs, ys }` when a column is a label. A position
 * is the next record's byte offset and line (with the header's columns and their types), so
 * a resumed pass seeks there and reads nothing before it.
 */
import { ArgumentError, listSome } from '../errors.js';
import { derived, type Dataset } from './dataset.js';
import { byteSource, type SourceLike, type SourceOptions } from './byte-source.js';
import { RecordReader, type RecordStart } from './records.js';
import { DataError } from './errors.js';
import { splitDecimals } from './decimal.js';

export type ColumnDtype = 'float32' | 'int32' | 'bool' | 'string';

export interface ColumnConfig {
  /** The column goes in `ys` (and the rest in `xs`). */
  isLabel?: boolean;
  /** How values are read (default: float32 when the first row's value is a number, else string). */
  dtype?: ColumnDtype;
  /** The value of an empty field (without one, an empty numeric field is an error). */
  default?: number | string | boolean;
}

export interface CsvOptions extends SourceOptions {
  /** The first line names the columns (default true). */
  hasHeader?: boolean;
  /** The columns' names: needed without a header; with one, they replace its names. */
  columnNames?: string[];
  columnConfigs?: Record<string, ColumnConfig>;
  /** Keep only the columns columnConfigs names. */
  configuredColumnsOnly?: boolean;
  /** One character (default ','). */
  delimiter?: string;
  /** A record that cannot be read stops the pass with a DataError ('error', the default) or is left out ('skip'). */
  onBadRecord?: 'error' | 'skip';
  /**
   * 'objects' (the default, as tfjs-data): a row is an object keyed by column. 'arrays' (not
   * in tfjs-data): a row is its values in column order, `{ xs: [...], ys: [...] }` with a label
   * column — what a model takes, without building and taking apart an object per row (for
   * hundreds of columns, several times faster).
   */
  rows?: 'objects' | 'arrays';
}

export type CsvRow = Record<string, number | string>;
/** A row keyed by column (numbers, or strings in string columns); with a label column, `{ xs: row, ys: labels }`. */
export type CsvElement = Record<string, any>;

interface CsvPosition extends RecordStart {
  columns: string[];
  dtypes: ColumnDtype[];
}

/** The fields of one record: split at the delimiter, with RFC 4180 quotes where the record has any. */
export function splitRecord(text: string, delimiter: string): string[] | string {
  if (!text.includes('"')) return text.split(delimiter);
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return 'a quoted field has no closing quote';
        value += text.slice(j, q);
        if (text[q + 1] === '"') {
          value += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      fields.push(value);
      if (j === text.length) return fields;
      if (text[j] !== delimiter) return `a quoted field is followed by '${text[j]}', not the delimiter`;
      i = j + 1;
    } else {
      const d = text.indexOf(delimiter, i);
      fields.push(d < 0 ? text.slice(i) : text.slice(i, d));
      if (d < 0) return fields;
      i = d + 1;
    }
  }
}

const isNumber = (s: string) => s.trim() !== '' && !Number.isNaN(Number(s));
const QUOTE = 34;

/**
 * One record's fields. A record without quotes is split on its bytes and its numbers read
 * from them (`splitDecimals`): no string is made for a plain number. A quoted record is
 * decoded and split as text (RFC 4180).
 */
class RecordFields {
  count = 0;
  private bytes: Uint8Array = new Uint8Array(0);
  private bounds = new Int32Array(0);
  /** Each field as a plain decimal, or NaN (see splitDecimals). */
  private values = new Float64Array(0);

  /** The fields read as plain decimals (NaN where not one); null for a record split as text. */
  get numbers(): Float64Array | null {
    return this.texts ? null : this.values;
  }
  private texts: string[] | null = null;
  private readonly delimiterByte: number;
  private readonly decoder = new TextDecoder();

  constructor(private readonly delimiter: string) {
    const code = delimiter.charCodeAt(0);
    this.delimiterByte = code < 128 ? code : -1; // a non-ASCII delimiter: always split as text
  }

  /** Takes a record; returns why it cannot be split, if it cannot. */
  read(record: Uint8Array): string | null {
    this.bytes = record;
    if (this.delimiterByte < 0 || record.indexOf(QUOTE) >= 0) {
      const split = splitRecord(this.decoder.decode(record), this.delimiter);
      if (typeof split === 'string') return split;
      this.texts = split;
      this.count = split.length;
      return null;
    }
    this.texts = null;
    if (this.bounds.length < 2 * record.length + 2) {
      this.bounds = new Int32Array(2 * record.length + 2);
      this.values = new Float64Array(record.length + 1);
    }
    this.count = splitDecimals(record, this.delimiterByte, this.bounds, this.values);
    return null;
  }

  text(i: number): string {
    return this.texts ? this.texts[i] : this.decoder.decode(this.bytes.subarray(this.bounds[2 * i], this.bounds[2 * i + 1]));
  }

  empty(i: number): boolean {
    return this.texts ? this.texts[i] === '' : this.bounds[2 * i] === this.bounds[2 * i + 1];
  }

  /** The field as a plain decimal read from its bytes, or NaN: then its text decides. */
  number(i: number): number {
    return this.texts ? NaN : this.values[i];
  }
}

export function csv(source: SourceLike, options: CsvOptions = {}): Dataset<CsvElement> {
  const bytes = byteSource(source, options);
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n')
    throw new ArgumentError(`data.csv: delimiter must be one character other than a quote or newline, got ${JSON.stringify(delimiter)}`);
  const hasHeader = options.hasHeader ?? true;
  if (!hasHeader && !options.columnNames)
    throw new ArgumentError('data.csv: without a header (hasHeader: false), give columnNames');
  const configs = options.columnConfigs ?? {};
  const onBad = options.onBadRecord ?? 'error';
  return derived([], null, async (position) => {
    const saved = position as CsvPosition | undefined;
    // One reader from the start of the file (header, then records) or from the saved record on.
    const reader = new RecordReader(bytes, saved ? { offset: saved.offset, line: saved.line } : { offset: 0, line: 1 }, true);
    let columns: string[], dtypes: ColumnDtype[] | null;
    if (saved) {
      columns = saved.columns;
      dtypes = saved.dtypes.length ? saved.dtypes : null;
    } else {
      columns = await header(reader, bytes.name, hasHeader, delimiter, options.columnNames);
      const unknown = Object.keys(configs).filter((k) => !columns.includes(k));
      if (unknown.length)
        throw new DataError(
          `columnConfigs names ${listSome(unknown.map((k) => `'${k}'`))}, which the file does not have (its columns: ${listSome(columns)})`,
          { source: bytes.name },
        );
      dtypes = null;
    }
    // Per column, looked up once: read or not, label or not, the value of an empty field.
    const keep = columns.map((c) => !options.configuredColumnsOnly || c in configs);
    const label = columns.map((c) => configs[c]?.isLabel === true);
    const defaults = columns.map((c) => {
      const d = configs[c]?.default;
      return d === undefined ? undefined : toValue(d);
    });
    const anyLabel = label.some(Boolean);

    const arrays = options.rows === 'arrays';
    let plainFloat: boolean[] | null = null;
    let allFloat: boolean | null = null;
    const featureIndex = Int32Array.from(columns.flatMap((_, i) => (keep[i] && !label[i] ? [i] : [])));
    const labelIndex = Int32Array.from(columns.flatMap((_, i) => (keep[i] && label[i] ? [i] : [])));
    const fields = new RecordFields(delimiter);

    /** Field i's value by its column's type, or the reason it is bad. */
    const valueOf = (i: number, at: RecordStart): number | string | DataError => {
      const column = columns[i],
        dtype = dtypes![i];
      const bad = (why: string): DataError =>
        new DataError(why, { source: bytes.name, line: at.line, offset: at.offset, column });
      const fallback = defaults[i];
      if (fallback !== undefined && fields.empty(i)) return fallback;
      if (dtype === 'string') return fields.text(i);
      if (dtype === 'bool') {
        const b = fields.text(i).trim().toLowerCase();
        if (!['true', 'false', '1', '0'].includes(b)) return bad(`'${fields.text(i)}' is not a boolean (true, false, 1, 0)`);
        return b === 'true' || b === '1' ? 1 : 0;
      }
      let value = fields.number(i);
      if (Number.isNaN(value)) {
        const text = fields.text(i);
        value = Number(text);
        if (text.trim() === '') return bad(`empty value in the ${dtype} column (give columnConfigs['${column}'].default)`);
        if (Number.isNaN(value))
          return bad(`'${text.length > 40 ? `${text.slice(0, 40)}…` : text}' is not a number, in the ${dtype} column`);
      }
      if (dtype === 'int32' && !Number.isInteger(value)) return bad(`'${fields.text(i)}' is not an integer, in the int32 column`);
      return value;
    };

    /** The element of one record, or the reason it is bad (with the column). */
    const parse = (at: RecordStart): CsvElement | DataError => {
      if (fields.count !== columns.length)
        return new DataError(`${fields.count} fields where the header has ${columns.length} columns`, {
          source: bytes.name,
          line: at.line,
          offset: at.offset,
        });
      dtypes ??= columns.map((c, i) => configs[c]?.dtype ?? (isNumber(fields.text(i)) ? 'float32' : 'string'));
      // A float32 column's plain decimal, already read with the split, goes straight in.
      plainFloat ??= dtypes.map((d, i) => d === 'float32' && keep[i]);
      allFloat ??= dtypes.every((d, i) => !keep[i] || (d === 'float32' && defaults[i] === undefined));
      const numbers = fields.numbers;
      if (arrays && numbers !== null && allFloat) {
        // Every column a float32 one: gather the plain decimals into lists of their final length.
        const xs = gather(numbers, featureIndex),
          ys = gather(numbers, labelIndex);
        if (xs !== null && ys !== null) return anyLabel ? { xs, ys } : xs;
      }
      if (arrays) {
        const xs: Array<number | string> = [],
          ys: Array<number | string> = [];
        for (let i = 0; i < columns.length; i++) {
          const into = label[i] ? ys : xs;
          if (plainFloat[i] && numbers !== null) {
            const v = numbers[i];
            if (v === v) {
              into.push(v);
              continue;
            }
          }
          if (!keep[i]) continue;
          const v = valueOf(i, at); // not a plain decimal: by its column's type
          if (v instanceof DataError) return v;
          into.push(v);
        }
        return anyLabel ? { xs, ys } : xs;
      }
      const xs: CsvRow = {},
        ys: CsvRow = {};
      for (let i = 0; i < columns.length; i++) {
        const into = label[i] ? ys : xs;
        if (plainFloat[i] && numbers !== null) {
          const v = numbers[i];
          if (v === v) {
            into[columns[i]] = v;
            continue;
          }
        }
        if (!keep[i]) continue;
        const v = valueOf(i, at);
        if (v instanceof DataError) return v;
        into[columns[i]] = v;
      }
      return anyLabel ? { xs, ys } : xs;
    };

    return {
      next: async () => {
        for (;;) {
          const at: RecordStart = { offset: reader.offset, line: reader.line };
          const record = await reader.next();
          if (record === null) return { done: true, value: undefined };
          if (record.length === 0) continue; // a blank line (the file's last newline, or padding) is no record
          const bad = fields.read(record);
          const element = bad ? new DataError(bad, { source: bytes.name, line: at.line, offset: at.offset }) : parse(at);
          if (!(element instanceof DataError)) return { done: false, value: element };
          if (onBad === 'error') throw element;
        }
      },
      position: (): CsvPosition => ({ offset: reader.offset, line: reader.line, columns, dtypes: dtypes ?? [] }),
    };
  });
}

/** numbers[index[j]] for each j, as a list; null if one of them is no plain decimal. */
function gather(numbers: Float64Array, index: Int32Array): number[] | null {
  const out = new Array<number>(index.length);
  for (let j = 0; j < index.length; j++) {
    const v = numbers[index[j]];
    if (v !== v) return null;
    out[j] = v;
  }
  return out;
}

function toValue(v: number | string | boolean): number | string {
  return typeof v === 'boolean' ? Number(v) : v;
}

/** The columns, read from the header through `reader` (which then stands at the first data record). */
async function header(
  reader: RecordReader,
  source: string,
  hasHeader: boolean,
  delimiter: string,
  names: string[] | undefined,
): Promise<string[]> {
  if (!hasHeader) return [...names!];
  const record = await reader.next();
  if (record === null) throw new DataError('the file is empty: no header', { source });
  const fields = splitRecord(new TextDecoder().decode(record), delimiter);
  if (typeof fields === 'string') throw new DataError(`the header: ${fields}`, { source, line: 1 });
  if (names && names.length !== fields.length)
    throw new DataError(`columnNames has ${names.length} names, the header ${fields.length} columns`, { source, line: 1 });
  const columns = names ? [...names] : fields.map((f) => f.trim());
  const twice = columns.filter((c, i) => columns.indexOf(c) !== i);
  if (twice.length)
    throw new DataError(`the column ${listSome(twice.map((c) => `'${c}'`))} is named twice`, { source, line: 1 });
  return columns;
}
