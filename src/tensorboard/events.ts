/**
 * TensorBoard's `Event` protocol buffer (tensorflow/core/util/event.proto) and the summaries
 * Waypoint writes, encoded and decoded by field number: scalars as the scalars plugin's
 * rank-0 float tensors (what TensorFlow 2 writes), histograms as HistogramProto, text as the
 * text plugin's string tensor, and SessionLog for restarts.
 */
import {
  ProtoWriter,
  fixed32ToFloat,
  fixed64ToDouble,
  int64,
  readFields,
  utf8,
  type ProtoField,
} from '../protobuf/protobuf.js';

export interface Histogram {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  /** Right edges of the buckets; the last one is +∞'s stand-in (the maximum). */
  bucketLimit: number[];
  bucket: number[];
}

export type SummaryValue =
  | { tag: string; kind: 'scalar'; value: number }
  | { tag: string; kind: 'histogram'; histogram: Histogram }
  | { tag: string; kind: 'text'; text: string }
  /** A Keras model's JSON, which TensorBoard's graphs plugin draws as the conceptual graph. */
  | { tag: string; kind: 'kerasModel'; json: string };

export type SessionStatus = 'START' | 'STOP' | 'CHECKPOINT';

export type EventBody =
  | { kind: 'fileVersion'; version: string }
  | { kind: 'summary'; values: SummaryValue[] }
  | { kind: 'sessionLog'; status: SessionStatus; msg?: string };

export interface TbEvent {
  wallTime: number;
  step: number;
  body: EventBody;
}

const STATUS: Record<SessionStatus, number> = { START: 1, STOP: 2, CHECKPOINT: 3 };
const DT_FLOAT = 1,
  DT_STRING = 7;
const DATA_CLASS_SCALAR = 1,
  DATA_CLASS_TENSOR = 2;

function pluginMetadata(w: ProtoWriter, plugin: string, dataClass: number, content?: string): void {
  w.message(1, (p) => {
    p.string(1, plugin);
    if (content !== undefined) p.string(2, content);
  }).int(4, dataClass);
}

/** A Summary.Value, its fields in number order as protobuf writes them: tag 1, histo 5, tensor 8, metadata 9. */
function encodeValue(w: ProtoWriter, v: SummaryValue): void {
  w.string(1, v.tag);
  if (v.kind === 'scalar') {
    w.message(8, (t) =>
      t
        .int(1, DT_FLOAT)
        .message(2, () => undefined)
        .packedFloats(5, [v.value]),
    );
    w.message(9, (m) => pluginMetadata(m, 'scalars', DATA_CLASS_SCALAR));
  } else if (v.kind === 'text') {
    w.message(8, (t) =>
      t
        .int(1, DT_STRING)
        .message(2, () => undefined)
        .string(8, v.text),
    );
    w.message(9, (m) => pluginMetadata(m, 'text', DATA_CLASS_TENSOR));
  } else if (v.kind === 'kerasModel') {
    // As Keras's keras_model_summary: plugin content b'1', no data class.
    w.message(8, (t) =>
      t
        .int(1, DT_STRING)
        .message(2, () => undefined)
        .string(8, v.json),
    );
    w.message(9, (m) => pluginMetadata(m, 'graph_keras_model', 0, '1'));
  } else {
    const h = v.histogram;
    w.message(5, (p) =>
      p
        .double(1, h.min)
        .double(2, h.max)
        .double(3, h.num)
        .double(4, h.sum)
        .double(5, h.sumSquares)
        .packedDoubles(6, h.bucketLimit)
        .packedDoubles(7, h.bucket),
    );
  }
}

export function encodeEvent(e: TbEvent): Uint8Array {
  const w = new ProtoWriter().double(1, e.wallTime).int(2, e.step);
  const b = e.body;
  if (b.kind === 'fileVersion') w.string(3, b.version);
  else if (b.kind === 'summary')
    w.message(5, (s) => {
      for (const v of b.values) s.message(1, (m) => encodeValue(m, v));
    });
  else
    w.message(7, (s) => {
      s.int(1, STATUS[b.status]);
      if (b.msg) s.string(3, b.msg);
    });
  return w.finish();
}

const first = (fields: ProtoField[], n: number) => fields.find((f) => f.field === n);
const all = (fields: ProtoField[], n: number) => fields.filter((f) => f.field === n);

function packedDoubles(fields: ProtoField[], n: number): number[] {
  const out: number[] = [];
  for (const f of all(fields, n)) {
    if (f.wire === 1) out.push(fixed64ToDouble(f.bytes!));
    else for (let i = 0; i + 8 <= f.bytes!.length; i += 8) out.push(fixed64ToDouble(f.bytes!.subarray(i, i + 8)));
  }
  return out;
}

/** A tensor's single value: a float (float_val, packed or not, or tensor_content) or a string. */
function tensorValue(bytes: Uint8Array): number | string | undefined {
  const t = readFields(bytes);
  const s = first(t, 8);
  if (s) return utf8(s.bytes!);
  const f = first(t, 5);
  if (f) return fixed32ToFloat(f.bytes!);
  const d = first(t, 6);
  if (d) return fixed64ToDouble(d.bytes!);
  const content = first(t, 4);
  if (content && content.bytes!.length >= 4) {
    const dtype = Number(first(t, 1)?.varint ?? 0n);
    return dtype === 2 ? fixed64ToDouble(content.bytes!) : fixed32ToFloat(content.bytes!);
  }
  return undefined;
}

function decodeValue(bytes: Uint8Array): SummaryValue | null {
  const f = readFields(bytes);
  const tag = utf8(first(f, 1)?.bytes ?? new Uint8Array());
  const simple = first(f, 2);
  if (simple) return { tag, kind: 'scalar', value: fixed32ToFloat(simple.bytes!) };
  const histo = first(f, 5);
  if (histo) {
    const h = readFields(histo.bytes!);
    const num = (n: number) => {
      const x = first(h, n);
      return x ? fixed64ToDouble(x.bytes!) : 0;
    };
    return {
      tag,
      kind: 'histogram',
      histogram: {
        min: num(1),
        max: num(2),
        num: num(3),
        sum: num(4),
        sumSquares: num(5),
        bucketLimit: packedDoubles(h, 6),
        bucket: packedDoubles(h, 7),
      },
    };
  }
  const tensor = first(f, 8);
  if (tensor) {
    const value = tensorValue(tensor.bytes!);
    const metadata = first(f, 9),
      pluginData = metadata && first(readFields(metadata.bytes!), 1);
    const plugin = pluginData ? utf8(first(readFields(pluginData.bytes!), 1)?.bytes ?? new Uint8Array()) : '';
    if (typeof value === 'number') return { tag, kind: 'scalar', value };
    if (typeof value === 'string')
      return plugin === 'graph_keras_model'
        ? { tag, kind: 'kerasModel', json: value }
        : { tag, kind: 'text', text: value };
  }
  return null; // a kind Waypoint does not read (images, audio): skipped
}

/** Decodes one event; summary values of kinds Waypoint does not read are left out. */
export function decodeEvent(bytes: Uint8Array): TbEvent {
  const f = readFields(bytes);
  const wallTime = first(f, 1) ? fixed64ToDouble(first(f, 1)!.bytes!) : 0;
  const step = first(f, 2) ? int64(first(f, 2)!.varint!) : 0;
  const version = first(f, 3),
    summary = first(f, 5),
    session = first(f, 7);
  if (version) return { wallTime, step, body: { kind: 'fileVersion', version: utf8(version.bytes!) } };
  if (session) {
    const s = readFields(session.bytes!);
    const code = Number(first(s, 1)?.varint ?? 0n);
    const status = (Object.entries(STATUS).find(([, v]) => v === code)?.[0] ?? 'START') as SessionStatus;
    const msg = first(s, 3);
    return { wallTime, step, body: { kind: 'sessionLog', status, ...(msg ? { msg: utf8(msg.bytes!) } : {}) } };
  }
  const values = summary
    ? all(readFields(summary.bytes!), 1)
        .map((v) => decodeValue(v.bytes!))
        .filter((v): v is SummaryValue => v !== null)
    : [];
  return { wallTime, step, body: { kind: 'summary', values } };
}

/** 30 equal-width buckets over [min, max] (one bucket when they are equal), as a HistogramProto. */
export function histogramOf(values: ArrayLike<number>, buckets = 30): Histogram {
  let min = Infinity,
    max = -Infinity,
    sum = 0,
    sumSquares = 0,
    n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    n++;
    sum += v;
    sumSquares += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [0], bucket: [0] };
  const k = min === max ? 1 : buckets;
  const width = (max - min) / k;
  const bucket = new Array<number>(k).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) bucket[Math.min(k - 1, width === 0 ? 0 : Math.floor((v - min) / width))]++;
  }
  const bucketLimit = bucket.map((_, i) => (i === k - 1 ? max : min + (i + 1) * width));
  return { min, max, num: n, sum, sumSquares, bucketLimit, bucket };
}
