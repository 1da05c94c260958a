/**
 * State trees ↔ flat entries. A state is a tree of plain objects whose leaves are tensors,
 * Float32Arrays or JSON values; keys join with '/' (`model/layers/0/kernel`). A subtree
 * with no tensor anywhere below it is one JSON leaf, so configs stay whole.
 */
import { Tensor } from '../tensor/tensor.js';
import { CheckpointError } from './errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type StateLeaf = Tensor | Float32Array | JsonValue;
export interface StateDict {
  [key: string]: StateLeaf | StateDict;
}

export type FlatLeaf = { key: string; kind: 'tensor'; value: Tensor } | { key: string; kind: 'json'; value: JsonValue };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

function holdsTensor(v: unknown): boolean {
  if (v instanceof Tensor || v instanceof Float32Array) return true;
  if (Array.isArray(v)) return v.some(holdsTensor);
  return isPlainObject(v) && Object.values(v).some(holdsTensor);
}

/** Escapes a key segment so '/' can only ever be a separator ('~' → '~0', '/' → '~1'). */
const escapeSegment = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const unescapeSegment = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

export function flattenState(tree: StateDict, prefix = ''): FlatLeaf[] {
  const out: FlatLeaf[] = [];
  for (const [name, value] of Object.entries(tree)) {
    const key = prefix + escapeSegment(name);
    if (value instanceof Tensor) out.push({ key, kind: 'tensor', value });
    else if (value instanceof Float32Array) out.push({ key, kind: 'tensor', value: new Tensor(value, [value.length]) });
    else if (Array.isArray(value) && holdsTensor(value)) {
      throw new CheckpointError(
        'INVALID_STATE',
        'an array holding tensors cannot be stored: use an object keyed by name',
        { entry: key },
      );
    } else if (isPlainObject(value) && holdsTensor(value)) out.push(...flattenState(value as StateDict, `${key}/`));
    else out.push({ key, kind: 'json', value: checkJson(value, key) });
  }
  return out;
}

function checkJson(value: unknown, key: string): JsonValue {
  const t = typeof value;
  if (value === null || t === 'boolean' || t === 'number' || t === 'string') return value as JsonValue;
  if (Array.isArray(value)) return value.map((v, i) => checkJson(v, `${key}[${i}]`));
  if (isPlainObject(value)) {
    // As JSON.stringify does, a property whose value is undefined is left out.
    for (const [k, v] of Object.entries(value)) if (v !== undefined) checkJson(v, `${key}.${k}`);
    return value as JsonValue;
  }
  throw new CheckpointError(
    'INVALID_STATE',
    `value of type ${value === undefined ? 'undefined' : ((value as object).constructor?.name ?? t)} is neither a tensor nor JSON`,
    { entry: key },
  );
}

export function unflattenState(leaves: Array<{ key: string; value: StateLeaf }>): StateDict {
  const root: StateDict = {};
  for (const { key, value } of leaves) {
    const parts = key.split('/').map(unescapeSegment);
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (!isPlainObject(node[part])) node[part] = {};
      node = node[part] as StateDict;
    }
    node[parts[parts.length - 1]] = value;
  }
  return root;
}

/*
 * JSON cannot spell NaN, ±Infinity or -0 (JSON.stringify turns them into null or 0). They
 * are written as {"__float__": "NaN" | "Infinity" | "-Infinity" | "-0"} and revived on read.
 * A user's own key of the form `__float__`, `___float__`, … gets one more leading '_' on
 * write and loses it on read, so no value of the user's is ever taken for the tag.
 */
const FLOAT_TAG = '__float__';
/** An object JSON writes as `{…}` (also one without a prototype). */
const isJsonObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
const TAG_LIKE = /^_*__float__$/;

export function stringifyJson(value: JsonValue): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (isJsonObject(v) && Object.keys(v).some((k) => TAG_LIKE.test(k))) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [TAG_LIKE.test(k) ? `_${k}` : k, x]));
    }
    if (typeof v !== 'number' || (Number.isFinite(v) && !Object.is(v, -0))) return v;
    return { [FLOAT_TAG]: Object.is(v, -0) ? '-0' : String(v) };
  });
}

export function parseJson(text: string): JsonValue {
  return JSON.parse(text, (_k, v: unknown) => {
    if (!isPlainObject(v)) return v;
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === FLOAT_TAG && typeof v[FLOAT_TAG] === 'string') {
      const tag = v[FLOAT_TAG] as string;
      return tag === '-0'
        ? -0
        : tag === 'NaN'
          ? NaN
          : tag === 'Infinity'
            ? Infinity
            : tag === '-Infinity'
              ? -Infinity
              : v;
    }
    if (!keys.some((k) => k !== FLOAT_TAG && TAG_LIKE.test(k))) return v;
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k !== FLOAT_TAG && TAG_LIKE.test(k) ? k.slice(1) : k, x]),
    );
  }) as JsonValue;
}
