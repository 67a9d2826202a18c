/**
 * Index specifications, as in PyTorch's `x[...]`: a number selects, a slice (`':'`, `'1:3'`,
 * `'::2'`, or `{ start, stop, step }`) slices, `null` adds an axis, `'...'` is the ellipsis, and
 * a tensor indexes by integers or a boolean mask.
 */
export interface SliceSpec {
  start?: number | null;
  stop?: number | null;
  step?: number;
}

/** Anything with a native handle (a Tensor), without importing the Tensor class here. */
export interface HasHandle {
  handleFor(op: string): number;
}

export type IndexSpec = number | string | null | SliceSpec | HasHandle;

export type EncodedIndex = ['i', number] | ['s', number | null, number | null, number] | ['n'] | ['e'] | ['t', number];

function parseSliceString(text: string, op: string): EncodedIndex {
  const parts = text.split(':');
  if (parts.length < 2 || parts.length > 3) throw new TypeError(`${op}: invalid slice '${text}'`);
  const num = (s: string | undefined, fallback: number | null): number | null => {
    if (s === undefined || s.trim() === '') return fallback;
    const n = Number(s);
    if (!Number.isInteger(n)) throw new TypeError(`${op}: invalid slice '${text}'`);
    return n;
  };
  const step = num(parts[2], 1) as number;
  if (step <= 0) throw new TypeError(`${op}: slice step must be positive, got ${step}`);
  return ['s', num(parts[0], null), num(parts[1], null), step];
}

export function encodeIndices(specs: IndexSpec[], op: string): EncodedIndex[] {
  return specs.map((spec): EncodedIndex => {
    if (spec === null) return ['n'];
    if (typeof spec === 'number') {
      if (!Number.isInteger(spec)) throw new TypeError(`${op}: index ${spec} is not an integer`);
      return ['i', spec];
    }
    if (typeof spec === 'string') return spec === '...' ? ['e'] : parseSliceString(spec, op);
    if (typeof (spec as HasHandle).handleFor === 'function') return ['t', (spec as HasHandle).handleFor(op)];
    if (typeof spec === 'object') {
      const { start = null, stop = null, step = 1 } = spec as SliceSpec;
      if (!Number.isInteger(step) || step <= 0) throw new TypeError(`${op}: slice step must be a positive integer`);
      for (const [name, bound] of [['start', start], ['stop', stop]] as const) {
        if (bound !== null && !Number.isInteger(bound)) throw new TypeError(`${op}: slice ${name} must be an integer or null, got ${String(bound)}`);
      }
      return ['s', start, stop, step];
    }
    throw new TypeError(`${op}: invalid index ${String(spec)}`);
  });
}
