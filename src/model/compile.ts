/**
 * `model.compile`: the optimizer, and for each output its loss, its weight in the total and
 * its metrics, as Keras takes them — one for all outputs, a list by position, or an object
 * by output name — and the log keys they produce (`loss`; `out1_loss`, `out1_accuracy` when
 * a model has several outputs).
 */
import { ArgumentError } from '../errors.js';
import { type Optimizer, type OptimizerName, getOptimizer } from '../optim/index.js';
import { FUSABLE_ACTIVATION, type LossFn, type LossName, getLoss } from '../nn/losses.js';
import { type ResolvedMetric, resolveMetric } from '../nn/metrics.js';

/** One per output, by position, or keyed by output name. */
export type PerOutput<T> = T | T[] | Record<string, T>;

export interface CompileOptions {
  optimizer: Optimizer | OptimizerName;
  /** One loss for every output, or one per output (a list by position, or an object by output name). */
  loss: PerOutput<LossName>;
  /** A model of one output: a list. Of several: a list of lists by position, or an object of lists by output name (as Keras 3). */
  metrics?: string[] | string[][] | Record<string, string[]>;
  /** Each output's weight in the total loss (default 1), by position or by output name. */
  lossWeights?: number[] | Record<string, number>;
}

/** What compile settled for one output. */
export interface CompiledOutput {
  name: string;
  lossName: LossName;
  loss: LossFn;
  weight: number;
  metrics: ResolvedMetric[];
  /** The output's activation is folded into its loss (softmax/sigmoid + cross-entropy). */
  fromLogits: boolean;
  /** Log key prefix: '' for a model of one output, `name_` for several. */
  prefix: string;
}

/** The compiled training setup. */
export interface Compiled {
  optimizer: Optimizer;
  outputs: CompiledOutput[];
  /** The outputs whose activation their loss folds in (the forward pass leaves them as logits). */
  logits: ReadonlySet<number>;
  /** The options as given, normalized to one entry per output (what a model file records). */
  options: { loss: LossName[]; metrics: string[][]; lossWeights: number[] };
}

/** What compile needs to know of a model's outputs. */
export interface OutputSpec {
  name: string;
  /** The activation of the layer that makes it, if the loss may take its logits instead. */
  fusableActivation: string | undefined;
}

/** `value` spread to one entry per output: a single value, a list by position or an object by name. */
function perOutput<T>(
  what: string,
  value: PerOutput<T> | undefined,
  outputs: OutputSpec[],
  fallback: T,
  isSingle: (v: unknown) => v is T,
): T[] {
  const names = outputs.map((o) => o.name);
  if (value === undefined) return names.map(() => fallback);
  if (isSingle(value)) return names.map(() => value);
  if (Array.isArray(value)) {
    if (value.length !== names.length)
      throw new ArgumentError(
        `compile: ${what} lists ${value.length} entries for ${names.length} outputs (${names.join(', ')})`,
      );
    return value;
  }
  if (value !== null && typeof value === 'object') {
    const unknown = Object.keys(value).filter((k) => !names.includes(k));
    if (unknown.length)
      throw new ArgumentError(`compile: ${what} names unknown output '${unknown[0]}' (outputs: ${names.join(', ')})`);
    return names.map((n) => (n in value ? (value as Record<string, T>)[n] : fallback));
  }
  throw new ArgumentError(`compile: ${what} must be one value, a list by output or an object by output name`);
}

export function compileModel(options: CompileOptions, outputs: OutputSpec[]): Compiled {
  if (options === null || typeof options !== 'object')
    throw new ArgumentError('compile: give { optimizer, loss, metrics? }');
  if (options.loss === undefined) throw new ArgumentError('compile: loss is required');
  const several = outputs.length > 1;
  const losses = perOutput(
    'loss',
    options.loss,
    outputs,
    undefined as never,
    (v): v is LossName => typeof v === 'string',
  );
  const weights = perOutput('lossWeights', options.lossWeights, outputs, 1, (v): v is number => typeof v === 'number');
  weights.forEach((w, i) => {
    if (!Number.isFinite(w))
      throw new ArgumentError(`compile: lossWeights for '${outputs[i].name}' must be a finite number, got ${w}`);
  });
  const m = options.metrics;
  const flat = Array.isArray(m) && m.length > 0 && m.every((x) => typeof x === 'string');
  if (flat && several)
    throw new ArgumentError(
      `compile: a model of ${outputs.length} outputs (${outputs.map((o) => o.name).join(', ')}) takes metrics per output, as Keras 3: a list of lists, or an object by output name`,
    );
  const metrics =
    flat || (Array.isArray(m) && m.length === 0)
      ? outputs.map(() => m as string[])
      : perOutput<string[]>(
          'metrics',
          m as PerOutput<string[]> | undefined,
          outputs,
          [],
          (_v): _v is string[] => false,
        );
  const compiled = outputs.map((o, i): CompiledOutput => {
    const lossName = losses[i];
    return {
      name: o.name,
      lossName,
      loss: getLoss(lossName),
      weight: weights[i],
      metrics: (metrics[i] ?? []).map((name) => resolveMetric(name, lossName)),
      fromLogits: o.fusableActivation !== undefined && o.fusableActivation === FUSABLE_ACTIVATION[lossName],
      prefix: several ? `${o.name}_` : '',
    };
  });
  return {
    optimizer: getOptimizer(options.optimizer),
    outputs: compiled,
    logits: new Set(compiled.flatMap((o, i) => (o.fromLogits ? [i] : []))),
    options: { loss: losses, metrics, lossWeights: weights },
  };
}

/** The keys a batch's logs have: `loss`, then each output's loss (several outputs) and metrics. */
export function logKeys(compiled: Compiled): string[] {
  const several = compiled.outputs.length > 1;
  return [
    'loss',
    ...compiled.outputs.flatMap((o) => [
      ...(several ? [`${o.prefix}loss`] : []),
      ...o.metrics.map((m) => o.prefix + m.name),
    ]),
  ];
}
