import { join } from '../paths.js';
import { ArgumentError } from '../errors.js';
import { Callback } from '../model/callback.js';
import type { Logs } from '../model/history.js';
import { kerasLayerNames } from '../model/keras-names.js';
import type { Model } from '../model/model.js';
import type { GraphConfig } from '../model/graph.js';
import { type Storage, getDefaultStorage } from '../storage/storage.js';
import { EventFileWriter } from '../tensorboard/writer.js';
import { histogramOf } from '../tensorboard/events.js';
import { readRun } from '../tensorboard/reader.js';

export interface TensorBoardOptions {
  logDir: string;
  /** 'epoch' (default), or also write `batch_*` scalars every N batches (step: the global batch, 1-based). */
  updateFreq?: 'epoch' | number;
  /** Write a histogram of every weight every N epochs (0: never, the default). */
  histogramFreq?: number;
  /** Write the model's config and the fit's parameters as a text summary at the start (default true). */
  writeText?: boolean;
  /** Write the model as Keras JSON, which TensorBoard's graphs plugin draws (tag `keras`, as Keras; default true). */
  writeGraph?: boolean;
  /** Where the event files go (default: the default storage). */
  storage?: Storage;
}

/**
 * TensorBoard logs, as Keras's TensorBoard callback writes them: `logDir/train/` and
 * `logDir/validation/` each hold an event file per process; per-epoch scalars `epoch_<key>`
 * (and `epoch_learning_rate`) at step = epoch, per-batch `batch_<key>` every `updateFreq`
 * batches at step = global batch, weight histograms every `histogramFreq` epochs.
 *
 * Each process's files start with a SessionLog START at the epoch it starts at. TensorBoard's
 * loader takes a run's first START as its start and every later one as a restart, dropping
 * every earlier point at that step or later: so a resume (BackupAndRestore, or `initialEpoch`)
 * into a directory that holds logs drops the dead run's points from the resumed epoch on. Batch steps are on another scale, so
 * the batch points the dead run wrote between that epoch's start and the resume point (which
 * the resumed run does not train again) are read back from its files and written again after
 * the START: every tag then shows each step once, with the values of the run that finished.
 */
export class TensorBoard extends Callback {
  readonly logDir: string;
  readonly updateFreq: 'epoch' | number;
  readonly histogramFreq: number;
  readonly writeText: boolean;
  readonly writeGraph: boolean;
  private train: EventFileWriter | null = null;
  private validation: EventFileWriter | null = null;
  private opening: Promise<void> | null = null;

  constructor(private readonly options: TensorBoardOptions) {
    super();
    if (typeof options?.logDir !== 'string' || options.logDir === '')
      throw new ArgumentError(`TensorBoard: logDir must be a non-empty path, got ${JSON.stringify(options?.logDir)}`);
    this.logDir = options.logDir;
    this.updateFreq = options.updateFreq ?? 'epoch';
    if (this.updateFreq !== 'epoch' && !(Number.isInteger(this.updateFreq) && this.updateFreq > 0)) {
      throw new ArgumentError(
        `TensorBoard: updateFreq must be 'epoch' or a positive integer of batches, got ${String(this.updateFreq)}`,
      );
    }
    this.histogramFreq = options.histogramFreq ?? 0;
    if (!(Number.isInteger(this.histogramFreq) && this.histogramFreq >= 0))
      throw new ArgumentError(`TensorBoard: histogramFreq must be a non-negative integer, got ${this.histogramFreq}`);
    this.writeText = options.writeText ?? true;
    this.writeGraph = options.writeGraph ?? true;
  }

  private get storage(): Storage {
    return this.options.storage ?? getDefaultStorage();
  }

  /** Opens both writers once the fit's start is final (a resume moves it during onTrainBegin). */
  override async onEpochBegin(): Promise<void> {
    this.opening ??= this.open();
    await this.opening;
  }

  private async open(): Promise<void> {
    const start: { epoch: number; batch: number; stepsDone?: number } = this.context?.start ?? { epoch: 0, batch: 0 };
    const resumedBatches = start.stepsDone ?? start.epoch * (this.params?.steps ?? 0) + start.batch;
    const trainDir = join(this.logDir, 'train'),
      validationDir = join(this.logDir, 'validation');
    const [earlierTrain, earlierValidation] = await Promise.all([
      readRun(this.storage, trainDir),
      readRun(this.storage, validationDir),
    ]);
    this.train = await EventFileWriter.create(this.storage, trainDir);
    this.validation = await EventFileWriter.create(this.storage, validationDir);
    const resuming = earlierTrain.files.length > 0;
    for (const [w, earlier] of [
      [this.train, earlierTrain],
      [this.validation, earlierValidation],
    ] as const) {
      // Logs written without a START of their own (another writer's) get one first, so that ours counts as the restart.
      if (earlier.files.length > 0 && earlier.starts.length === 0)
        w.add(0, { kind: 'sessionLog', status: 'START', msg: "the earlier logs' start" });
      w.add(start.epoch, {
        kind: 'sessionLog',
        status: 'START',
        msg: earlier.files.length > 0 ? `resumed at epoch ${start.epoch}, batch ${start.batch}` : 'started',
      });
    }
    // Batch points the restart drops but the resumed run will not write again: the dead run's, up to the resume point.
    for (const [tag, points] of earlierTrain.scalars) {
      if (!tag.startsWith('batch_')) continue;
      for (const p of points)
        if (p.step >= start.epoch && p.step <= resumedBatches)
          this.train.add(p.step, { kind: 'summary', values: [{ tag, kind: 'scalar', value: p.value }] });
    }
    // Step 0 survives a restart at a later epoch: written again only when the START dropped it.
    if (this.writeText && (!resuming || start.epoch === 0)) {
      const config = JSON.stringify({ model: this.model.getConfig(), params: this.params }, null, 2);
      this.train.add(0, {
        kind: 'summary',
        values: [{ tag: 'config', kind: 'text', text: `\`\`\`json\n${config}\n\`\`\`` }],
      });
    }
    if (this.writeGraph && (!resuming || start.epoch === 0)) {
      this.train.add(0, {
        kind: 'summary',
        values: [{ tag: 'keras', kind: 'kerasModel', json: JSON.stringify(kerasModelJson(this.model)) }],
      });
    }
    await Promise.all([this.train.flush(), this.validation.flush()]);
  }

  override async onBatchEnd(batch: number, logs: Logs = {}): Promise<void> {
    if (this.updateFreq === 'epoch' || this.train === null) return;
    const step = this.context?.stepsDone ?? batch + 1;
    if (step % this.updateFreq !== 0) return;
    const values = Object.entries(logs)
      .filter(([k]) => k !== 'batch' && k !== 'size')
      .map(([k, value]) => ({ tag: `batch_${k}`, kind: 'scalar' as const, value }));
    this.train.add(step, { kind: 'summary', values });
  }

  override async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    if (this.train === null || this.validation === null) return;
    const train = Object.entries(logs).filter(([k]) => !k.startsWith('val_') && k !== 'learning_rate');
    const lr = this.model.optimizer?.learningRate;
    this.train.add(epoch, {
      kind: 'summary',
      values: [...train, ...(lr === undefined ? [] : [['learning_rate', lr] as const])].map(([k, value]) => ({
        tag: `epoch_${k}`,
        kind: 'scalar' as const,
        value,
      })),
    });
    const validation = Object.entries(logs).filter(([k]) => k.startsWith('val_'));
    if (validation.length)
      this.validation.add(epoch, {
        kind: 'summary',
        values: validation.map(([k, value]) => ({ tag: `epoch_${k.slice(4)}`, kind: 'scalar' as const, value })),
      });
    if (this.histogramFreq > 0 && epoch % this.histogramFreq === 0) {
      const names = kerasLayerNames(this.model);
      const values = this.model.layers.flatMap((layer, i) =>
        layer.namedWeights().map(([w, t]) => ({
          tag: `${names[i]}/${w}/histogram`,
          kind: 'histogram' as const,
          histogram: histogramOf(t.data),
        })),
      );
      if (values.length) this.train.add(epoch, { kind: 'summary', values });
    }
    await Promise.all([this.train.flush(), this.validation.flush()]);
  }

  override async onTrainEnd(): Promise<void> {
    await this.close();
  }

  /** An interrupted or failed fit still leaves every event written so far on disk. */
  override async onTrainAbort(): Promise<void> {
    await this.close().catch(() => undefined);
  }

  private async close(): Promise<void> {
    const writers = [this.train, this.validation];
    this.train = this.validation = null;
    this.opening = null;
    await Promise.all(writers.map((w) => w?.close()));
  }
}

/**
 * The model as Keras's `to_json()` lays it out, what TensorBoard's graphs plugin reads: a
 * Sequential's layers in order, or a functional model's layers with the calls that feed each
 * (`inbound_nodes`) and its input and output layers.
 */
function kerasModelJson(model: Model): unknown {
  const names = kerasLayerNames(model);
  const kerasClass = (c: string) => (c === 'MaxPool2D' ? 'MaxPooling2D' : c);
  const layers = model.layers.map((l, i) => ({
    class_name: kerasClass(l.kerasClassName),
    name: names[i],
    config: { ...l.getConfig(), name: names[i], dtype: 'float32' },
  }));
  const graph = model.getConfig();
  if (!('nodes' in graph))
    return {
      class_name: 'Sequential',
      config: { name: model.name, layers },
      keras_version: 'waypoint',
      backend: 'waypoint',
    };
  const { nodes, inputs, outputs } = graph as GraphConfig;
  return {
    class_name: 'Functional',
    config: {
      name: model.name,
      layers: layers.map((l) => ({
        ...l,
        inbound_nodes: nodes
          .filter((n) => n.layer === l.name && n.inputs.length)
          .map((n) => n.inputs.map((r) => [...r, {}])),
      })),
      input_layers: inputs,
      output_layers: outputs,
    },
    keras_version: 'waypoint',
    backend: 'waypoint',
  };
}
