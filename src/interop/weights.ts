/**
 * A model's weights as safetensors bytes and back, in Keras's layout (`layers.0.kernel` in a
 * Sequential, `layers.dense.kernel` in a functional model: Waypoint's shapes) or PyTorch's
 * (the state_dict of the equivalent module, see torch-layout.ts). Bytes in, bytes out, so the same calls work in a browser.
 */
import { ENGINE_VERSION } from '../version.js';
import { fmtShape, listSome } from '../errors.js';
import { CheckpointError } from '../state/errors.js';
import type { Model } from '../model/model.js';
import { encodeSafetensors, parseSafetensors } from './safetensors.js';
import { type WeightEntry, torchPlan } from './torch-layout.js';

export type WeightsLayout = 'keras' | 'torch';

export interface ImportReport {
  /** Entries the model expected that the file lacks (with strict: false; those weights stay as they were). */
  missing: string[];
  /** Entries in the file that the model has no weight for. */
  unexpected: string[];
  /** Entries present on both sides with another shape (skipped with strict: false). */
  mismatched: string[];
}

/** Keras's layout: each layer's weights once, under its key in the model (`layers.0.kernel`, `layers.dense.kernel`). */
function entriesOf(model: Model, layout: WeightsLayout): WeightEntry[] {
  if (layout === 'torch') return torchPlan(model).entries;
  const calls = model.dataflow().calls;
  return calls
    .filter((c, i) => calls.findIndex((o) => o.layer === c.layer) === i)
    .flatMap(({ layer, key }) =>
      layer.namedWeights().map(([name, w]) => ({
        key: `${key}.${name}`,
        shape: [...w.shape],
        read: () => w.data,
        write: (d: Float32Array) => w.data.set(d),
      })),
    );
}

export function exportSafetensors(model: Model, options: { layout?: WeightsLayout } = {}): Uint8Array {
  const layout = options.layout ?? 'keras';
  const tensors = entriesOf(model, layout).map((e) => ({ name: e.key, shape: e.shape, data: e.read() }));
  return encodeSafetensors(tensors, {
    format: layout === 'torch' ? 'pt' : 'waypoint',
    engine: `waypoint ${ENGINE_VERSION}`,
    model: model.name,
    layout,
  });
}

/**
 * Loads weights from safetensors bytes into `model`. Strict (the default), every entry must
 * be there with its shape and nothing else: otherwise a CheckpointError (MISSING_KEYS,
 * UNEXPECTED_KEYS or SHAPE_MISMATCH) names the entries and nothing is changed. With
 * `strict: false` what matches is loaded and the report lists the rest, as Checkpoint.read.
 */
export function importSafetensors(
  model: Model,
  bytes: Uint8Array,
  options: { layout?: WeightsLayout; strict?: boolean } = {},
): ImportReport {
  const strict = options.strict ?? true;
  const { tensors } = parseSafetensors(bytes);
  const entries = entriesOf(model, options.layout ?? 'keras');
  const expected = new Set(entries.map((e) => e.key));
  const report: ImportReport = {
    missing: [],
    unexpected: [...tensors.keys()].filter((k) => !expected.has(k)),
    mismatched: [],
  };
  const shapes: string[] = [];
  for (const e of entries) {
    const t = tensors.get(e.key);
    if (t === undefined) report.missing.push(e.key);
    else if (fmtShape(t.shape) !== fmtShape(e.shape)) {
      report.mismatched.push(e.key);
      shapes.push(`${e.key}: expected ${fmtShape(e.shape)}, file has ${fmtShape(t.shape)}`);
    }
  }
  if (strict && report.missing.length + report.unexpected.length + report.mismatched.length > 0) {
    const parts = [
      report.missing.length ? `missing from the file: ${listSome(report.missing)}` : '',
      report.unexpected.length ? `not expected: ${listSome(report.unexpected)}` : '',
      shapes.length ? `different shape: ${listSome(shapes)}` : '',
    ].filter(Boolean);
    const code = report.missing.length
      ? 'MISSING_KEYS'
      : report.unexpected.length
        ? 'UNEXPECTED_KEYS'
        : 'SHAPE_MISMATCH';
    throw new CheckpointError(code, `${parts.join('; ')} (import with { strict: false } to load what matches)`);
  }
  for (const e of entries) {
    const t = tensors.get(e.key);
    if (t !== undefined && !report.mismatched.includes(e.key)) e.write(t.data);
  }
  return report;
}
