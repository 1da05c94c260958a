/**
 * The importers as an attack surface (interop/tfjs.ts, interop/safetensors.ts, `waypoint
 * import`): a model.json or a safetensors file from elsewhere reads only the files it should,
 * allocates only what its bytes hold, and fails with a typed error naming the problem.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointError,
  Dense,
  Flatten,
  SafetensorsError,
  Sequential,
  WaypointError,
  encodeSafetensors,
  exportTfjs,
  importSafetensors,
  importTfjs,
  parseSafetensors,
} from '../../src/node/index.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'waypoint.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wpt-import-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small model as a TensorFlow.js export: model.json's content and its weight bytes. */
function tfjsModel() {
  const model = new Sequential(
    [new Flatten({ inputShape: [2, 2] }), new Dense({ units: 3 }), new Dense({ units: 2 })],
    { seed: 3 },
  );
  return exportTfjs(model);
}

/** Writes a model.json (and weights.bin) into a new folder under `dir`; returns model.json's path. */
function writeTfjs(name: string, modelJson: unknown, weights: Uint8Array | null = tfjsModel().weightData): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'model.json'), JSON.stringify(modelJson));
  if (weights) writeFileSync(join(folder, 'weights.bin'), weights);
  return join(folder, 'model.json');
}

const withPaths = (paths: unknown) => {
  const { modelJson } = tfjsModel();
  return { ...modelJson, weightsManifest: [{ ...modelJson.weightsManifest[0], paths }] };
};

describe("waypoint import --from tfjs reads only the weight files inside model.json's folder", () => {
  const importing = (modelJsonPath: string) => {
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}.wpt`);
    const r = cli('import', modelJsonPath, '--from', 'tfjs', '--out', out);
    return { ...r, wrote: existsSync(out) };
  };

  it.each([
    [
      'a path that climbs out',
      ['../../../../../../etc/passwd'],
      /UNSAFE_PATH: .*paths\[0\] is "\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd"/,
    ],
    ['a device through a climbing path', ['../../dev/zero'], /UNSAFE_PATH/],
    ['an absolute path', ['/etc/passwd'], /UNSAFE_PATH/],
    ['paths: null', null, /MALFORMED_HEADER: .*weightsManifest\[0\] must have lists 'paths' and 'weights'/],
  ])('%s is refused before anything is read', (_what, paths, message) => {
    const r = importing(writeTfjs(`paths-${Math.random().toString(36).slice(2)}`, withPaths(paths)));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(r.wrote).toBe(false);
  });

  it('a weight file that is a link to a file outside, or not a regular file, is refused', () => {
    const linked = writeTfjs('linked', withPaths(['w.bin']), null);
    symlinkSync('/etc/passwd', join(dir, 'linked', 'w.bin'));
    expect(importing(linked).stderr).toMatch(/UNSAFE_PATH: .*'w\.bin' resolves to \/etc\/passwd, outside/);
    const device = writeTfjs('device', withPaths(['zero']), null);
    spawnSync('mkfifo', [join(dir, 'device', 'zero')]);
    expect(importing(device).stderr).toMatch(/UNSAFE_PATH: .*'zero' is not a regular file/);
  });

  it('trailing bytes after the weights are refused, and so are missing ones', () => {
    const { modelJson, weightData } = tfjsModel();
    const longer = importing(writeTfjs('trailing', modelJson, new Uint8Array([...weightData, 1, 2, 3, 4])));
    expect(longer.stderr).toMatch(
      /MALFORMED_HEADER: .*take 92 bytes, the weight files \(weights\.bin\) hold 96 \(trailing bytes are refused\)/,
    );
    const shorter = importing(writeTfjs('short', modelJson, weightData.subarray(0, 80)));
    expect(shorter.stderr).toMatch(/TRUNCATED: .*hold 80/);
  });

  it('a good export imports (the checks refuse nothing legitimate)', () => {
    const { modelJson, weightData } = tfjsModel();
    const r = importing(writeTfjs('good', modelJson, weightData));
    expect(r.stderr).toBe('');
    expect(r.wrote).toBe(true);
  });
});

describe('importTfjs sizes everything from the manifest before allocating', () => {
  it('a Dense of units 1e9 (or 1e6) fails before its weights are allocated', () => {
    const { modelJson, weightData } = tfjsModel();
    for (const units of [1e9, 1e6]) {
      const huge = structuredClone(modelJson);
      huge.modelTopology.config.layers[1].config.units = units;
      const before = process.memoryUsage().rss;
      const err = (() => {
        try {
          importTfjs(huge, weightData);
        } catch (e) {
          return e;
        }
      })() as Error;
      expect(err).toBeInstanceOf(WaypointError);
      expect(err.message).toMatch(
        new RegExp(
          `layer 'dense' \\(Dense\\): a weight of ${4 * units} values is more than the 23 the model's weight files hold`,
        ),
      );
      expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    }
  });

  it.each([
    [
      'shape [0.25]',
      (j: any) => {
        j.weightsManifest[0].weights[0].shape = [0.25];
      },
      /MALFORMED_HEADER: .*shape \[0\.25\]; a shape is a list of non-negative integers/,
    ],
    [
      'shape "ab"',
      (j: any) => {
        j.weightsManifest[0].weights[0].shape = 'ab';
      },
      /MALFORMED_HEADER: .*shape "ab"/,
    ],
    [
      'layers [null]',
      (j: any) => {
        j.modelTopology.config.layers = [null];
      },
      /MALFORMED_HEADER: .*layers\[0\] must be an object with a 'class_name' and a 'config', got null/,
    ],
    [
      'weightsManifest: 7',
      (j: any) => {
        j.weightsManifest = 7;
      },
      /weightsManifest must be a list/,
    ],
    [
      'an input shape of strings',
      (j: any) => {
        j.modelTopology.config.layers[0].config.batch_input_shape = [null, 'a'];
      },
      /the input shape \[null,"a"\] is not/,
    ],
  ])('%s gives a typed error naming it', (_what, mutate, message) => {
    const { modelJson, weightData } = tfjsModel();
    const bad = structuredClone(modelJson);
    mutate(bad);
    expect(() => importTfjs(bad, weightData)).toThrow(message);
  });

  it('whatever a model.json holds in place of any of its parts, the result is a model or a WaypointError (property)', () => {
    const { modelJson, weightData } = tfjsModel();
    const paths: string[][] = [];
    const walk = (v: unknown, at: string[]) => {
      paths.push(at);
      if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
    };
    walk(modelJson, []);
    fc.assert(
      fc.property(
        fc.constantFrom(...paths.filter((p) => p.length > 0)),
        fc.jsonValue({ maxDepth: 2 }),
        (path, value) => {
          const bad = structuredClone(modelJson);
          let node: any = bad;
          for (const k of path.slice(0, -1)) node = node[k];
          node[path.at(-1)!] = value;
          try {
            importTfjs(bad, weightData);
          } catch (e) {
            if (!(e instanceof WaypointError))
              throw new Error(
                `${path.join('.')} = ${JSON.stringify(value)}: ${(e as Error).name}: ${(e as Error).message}`,
              );
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('the safetensors reader', () => {
  const withHeader = (header: string | number) => {
    const json = new TextEncoder().encode(String(header));
    const out = new Uint8Array(8 + json.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  };

  it('refuses a header said to be over 100 MB before reading it, and a header that is not an object', () => {
    const claim = new Uint8Array(16);
    new DataView(claim.buffer).setBigUint64(0, 122_000_000n, true);
    expect(() => parseSafetensors(claim)).toThrow(
      /the header is said to be 122000000 bytes, more than the 100000000 read/,
    );
    for (const header of ['null', '[1]', '7', '"x"'])
      expect(() => parseSafetensors(withHeader(header))).toThrow(SafetensorsError);
    expect(() => parseSafetensors(withHeader('{"a": null}'))).toThrow(
      /'a' must be an object with dtype, shape and data_offsets, got null/,
    );
    expect(() =>
      parseSafetensors(withHeader('{"a": {"dtype": "toString", "shape": [], "data_offsets": [0, 0]}}')),
    ).toThrow(/dtype toString/);
  });

  it('an error about a file of 100,000 names lists ten and counts the rest', () => {
    const tensors = Array.from({ length: 100_000 }, (_, i) => ({
      name: `extra.tensor.${i}`,
      shape: [1],
      data: new Float32Array(1),
    }));
    const model = new Sequential([new Dense({ units: 1, inputShape: [1] })]);
    const err = (() => {
      try {
        importSafetensors(model, encodeSafetensors(tensors));
      } catch (e) {
        return e as Error;
      }
    })()!;
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message.length).toBeLessThan(1000);
    expect(err.message).toMatch(/and 99990 more/);
  });

  it('whatever the header holds, the result is tensors or a SafetensorsError (property)', () => {
    const spec = fc.record(
      {
        dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'I64', 'X'), fc.jsonValue()),
        shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 3 })), fc.jsonValue()),
        data_offsets: fc.oneof(
          fc.tuple(fc.integer({ min: -2, max: 20 }), fc.integer({ min: -2, max: 20 })),
          fc.jsonValue(),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(spec, fc.jsonValue())), fc.jsonValue()),
        fc.uint8Array({ maxLength: 24 }),
        (header, body) => {
          const json = new TextEncoder().encode(JSON.stringify(header) ?? 'null');
          const bytes = new Uint8Array(8 + json.length + body.length);
          new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
          bytes.set(json, 8);
          bytes.set(body, 8 + json.length);
          try {
            parseSafetensors(bytes);
          } catch (e) {
            if (!(e instanceof SafetensorsError))
              throw new Error(`${JSON.stringify(header)}: ${(e as Error).name}: ${(e as Error).message}`);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('waypoint import of a text file says what is wrong in one line, as a WaypointError', () => {
    writeFileSync(join(dir, 'notes.txt'), 'hello, this is not a safetensors file at all');
    const like = join(dir, 'like.wpt');
    const made = cli('import', writeTfjs('like-src', tfjsModel().modelJson), '--from', 'tfjs', '--out', like);
    expect(made.status).toBe(0);
    const r = cli(
      'import',
      join(dir, 'notes.txt'),
      '--from',
      'safetensors',
      '--like',
      like,
      '--out',
      join(dir, 'x.wpt'),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^waypoint import: safetensors: the header is said to be \d+ bytes/);
    expect(r.stderr).not.toMatch(/unexpected error/);
  });
});
