/**
 * data.csv and data.textLines: streamed in chunks of any size (quotes, newlines inside
 * quotes, CRLF, a byte-order mark and multi-byte characters across chunk boundaries), each
 * record's position exact, bad records named by source, line, byte offset and column.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { DataError, MemoryStorage, data, decodeValue, encodeValue } from '../../src/node/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);

/** Reads every element, with a position taken after each one resumed from to check the rest. */
async function readAll(ds: ReturnType<typeof data.csv> | ReturnType<typeof data.textLines>) {
  const it = await ds.iterator();
  const out: unknown[] = [];
  const positions: unknown[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) {
    out.push(r.value);
    positions.push(JSON.parse(JSON.stringify(encodeValue(it.position()))));
  }
  return { out, positions };
}

describe('data.textLines', () => {
  it('gives the lines of any file in chunks of any size, CRLF or LF, BOM skipped, UTF-8 intact; every position resumes at the next line', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', ' ', ',') }), { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 9 }),
        async (lines, crlf, bom, chunkSize) => {
          const text = (bom ? '\ufeff' : '') + lines.join(crlf ? '\r\n' : '\n');
          const ds = data.textLines(bytes(text), { chunkSize });
          const { out, positions } = await readAll(ds);
          // A file's last line end ends its last line: a last empty piece is no line.
          const expected = lines.at(-1) === '' ? lines.slice(0, -1) : lines;
          expect(out).toEqual(expected);
          for (let k = 0; k < positions.length; k++) {
            const rest = await (await ds.iterator(decodeValue(positions[k] as never))).next();
            expect(rest.done ? undefined : rest.value).toEqual(expected[k + 1]);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reads a path through the Storage it is given', async () => {
    const storage = new MemoryStorage();
    await storage.mkdirp('/logs');
    const w = await storage.createExclusive('/logs/a.txt');
    await w.write([bytes('one\ntwo\nthree\n')]);
    await w.close();
    expect(await data.textLines('/logs/a.txt', { storage }).toArray()).toEqual(['one', 'two', 'three']);
    const e = await data
      .textLines('/logs/missing.txt', { storage })
      .toArray()
      .catch((err) => err);
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/\/logs\/missing\.txt/);
  });
});

/** RFC 4180 text for rows of strings, quoting where needed. */
const toCsv = (rows: string[][], eol: string) =>
  rows.map((r) => r.map((f) => (/[",\n\r]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',')).join(eol) + eol;

describe('data.csv', () => {
  it('parses quoted fields (delimiters, doubled quotes and newlines inside) in chunks of any size, and resumes at every record', async () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', 'é', ' ') });
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 4 })
          .chain((k) => fc.array(fc.array(field, { minLength: k, maxLength: k }), { minLength: 1, maxLength: 8 })),
        fc.constantFrom('\n', '\r\n'),
        fc.integer({ min: 1, max: 7 }),
        async (rows, eol, chunkSize) => {
          const header = rows[0].map((_, i) => `c${i}`);
          // A record of one empty field is a blank line: left out, as tfjs-data does.
          const kept = rows.filter((r) => !(r.length === 1 && r[0] === ''));
          const columnConfigs = Object.fromEntries(header.map((h) => [h, { dtype: 'string' as const }]));
          const ds = data.csv(bytes(toCsv([header, ...rows], eol)), { chunkSize, columnConfigs });
          const { out, positions } = await readAll(ds);
          expect(out).toEqual(kept.map((r) => Object.fromEntries(r.map((f, i) => [`c${i}`, f]))));
          for (let k = 0; k < positions.length; k++) {
            const next = await (await ds.iterator(decodeValue(positions[k] as never))).next();
            expect(next.done ? undefined : next.value).toEqual(out[k + 1]);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('numbers by default, labels into ys, dtypes, defaults, configuredColumnsOnly, a delimiter, no header', async () => {
    const text = 'a;b;flag;name;label\n1.5;2;true;x;0\n-3e2;;0;y;1\n';
    const ds = data.csv(bytes(text), {
      delimiter: ';',
      columnConfigs: { label: { isLabel: true, dtype: 'int32' }, b: { default: 7 }, flag: { dtype: 'bool' } },
    });
    expect(await ds.toArray()).toEqual([
      { xs: { a: 1.5, b: 2, flag: 1, name: 'x' }, ys: { label: 0 } },
      { xs: { a: -300, b: 7, flag: 0, name: 'y' }, ys: { label: 1 } },
    ]);
    const only = data.csv(bytes(text), {
      delimiter: ';',
      configuredColumnsOnly: true,
      columnConfigs: { a: {}, label: {} },
    });
    expect(await only.toArray()).toEqual([
      { a: 1.5, label: 0 },
      { a: -300, label: 1 },
    ]);
    const noHeader = data.csv(bytes('1,2\n3,4\n'), { hasHeader: false, columnNames: ['p', 'q'] });
    expect(await noHeader.toArray()).toEqual([
      { p: 1, q: 2 },
      { p: 3, q: 4 },
    ]);
  });

  it('bad records: a DataError naming the source, line, byte offset and column; skipped only when asked', async () => {
    const text = 'x,y,label\n1,2,0\n3,4\n5,oops,1\n6,,1\n7,8,1\n';
    const storage = new MemoryStorage();
    await storage.mkdirp('/data');
    const w = await storage.createExclusive('/data/rows.csv');
    await w.write([bytes(text)]);
    await w.close();
    const errors: DataError[] = [];
    const firstError = async (t: string, options = {}) => {
      const e = await data
        .csv(bytes(t), options)
        .toArray()
        .catch((err) => err);
      expect(e).toBeInstanceOf(DataError);
      errors.push(e);
      return e as DataError;
    };
    const fields = await data
      .csv('/data/rows.csv', { storage })
      .toArray()
      .catch((e) => e);
    expect(fields).toBeInstanceOf(DataError);
    expect(fields.message).toBe('/data/rows.csv, line 3, byte 16: 2 fields where the header has 3 columns');
    expect([fields.source, fields.line, fields.offset]).toEqual(['/data/rows.csv', 3, 16]);
    const notNumber = await firstError('x,y\n1,2\n5,oops\n');
    expect(notNumber.message).toMatch(/line 3, byte 8, column 'y': 'oops' is not a number, in the float32 column/);
    expect(notNumber.column).toBe('y');
    const empty = await firstError('x,y\n1,2\n6,\n');
    expect(empty.message).toMatch(
      /column 'y': empty value in the float32 column \(give columnConfigs\['y'\]\.default\)/,
    );
    const unknown = await firstError('x,y\n1,2\n', { columnConfigs: { z: { isLabel: true } } });
    expect(unknown.message).toMatch(/columnConfigs names 'z', which the file does not have \(its columns: x, y\)/);
    const quote = await firstError('x,y\n"1,2\n');
    expect(quote.message).toMatch(/line 2.*no closing quote/);
    const skipped = await data.csv('/data/rows.csv', { storage, onBadRecord: 'skip' }).toArray();
    expect(skipped).toEqual([
      { x: 1, y: 2, label: 0 },
      { x: 7, y: 8, label: 1 },
    ]);
    for (const e of errors) expect(e.source).toMatch(/^\d+ bytes in memory$/);
  });

  it("rows: 'arrays' gives each row's values in column order, labels apart, each number the bits Number(text) gives", async () => {
    const number = fc.oneof(
      fc.double({ noNaN: true }).map(String),
      fc.integer({ min: -1e6, max: 1e6 }).map(String),
      fc.tuple(fc.nat(9999), fc.nat(99999)).map(([a, b]) => `${a}.${b}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(number, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 20 }),
        async (rows) => {
          const text = ['a,label,b', ...rows.map((r) => r.join(','))].join('\n');
          const ds = data.csv(bytes(text), { rows: 'arrays', columnConfigs: { label: { isLabel: true } } });
          const expected = rows.map((r) => ({ xs: [Number(r[0]), Number(r[2])], ys: [Number(r[1])] }));
          const got = (await ds.toArray()) as Array<{ xs: number[]; ys: number[] }>;
          expect(got.length).toBe(expected.length);
          got.forEach((g, i) => {
            g.xs.forEach((v, k) => expect(Object.is(v, expected[i].xs[k]), `${rows[i]}`).toBe(true));
            expect(Object.is(g.ys[0], expected[i].ys[0])).toBe(true);
          });
        },
      ),
      { numRuns: 200 },
    );
    expect(await data.csv(bytes('u,v\n1,"2"\n'), { rows: 'arrays' }).toArray()).toEqual([[1, 2]]);
  });

  it('reads a Blob or File in slices', async () => {
    const file = new File(['u,v\n1,2\n3,4\n'], 'points.csv');
    expect(await data.csv(file, { chunkSize: 3 }).toArray()).toEqual([
      { u: 1, v: 2 },
      { u: 3, v: 4 },
    ]);
    const e = await data
      .csv(new File(['u,v\n1\n'], 'short.csv'))
      .toArray()
      .catch((err) => err);
    expect(e.message).toMatch(/^File 'short\.csv', line 2, byte 4: 1 fields where the header has 2 columns/);
  });
});
