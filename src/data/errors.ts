import { WaypointError } from '../errors.js';

/** Where a bad record is: the source (a path, a URL, a Blob's name), and the line, byte offset and column when known. */
export interface RecordPlace {
  source: string;
  line?: number;
  offset?: number;
  column?: string;
}

/**
 * Data that cannot be read as asked: a row with the wrong number of fields, a value that is
 * not a number in a numeric column, an unknown column, elements whose shapes differ in a
 * batch, a source that cannot be read. The message names the place; so do the fields.
 */
export class DataError extends WaypointError {
  readonly source?: string;
  readonly line?: number;
  readonly offset?: number;
  readonly column?: string;

  constructor(detail: string, place?: RecordPlace) {
    super(place ? `${describePlace(place)}: ${detail}` : detail);
    Object.assign(this, place);
  }
}

export function describePlace({ source, line, offset, column }: RecordPlace): string {
  const at = [
    line !== undefined ? `line ${line}` : '',
    offset !== undefined ? `byte ${offset}` : '',
    column !== undefined ? `column '${column}'` : '',
  ].filter(Boolean);
  return at.length ? `${source}, ${at.join(', ')}` : source;
}
