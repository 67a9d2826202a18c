/**
 * The ops generated from one table (scripts/codegen/tensor-ops.js): the committed generated files
 * are what the generator makes of the table now, every op is in the native tables under the code
 * TypeScript uses, every method of the table is on Tensor and dispatches to its op, and the dtype
 * rules the docs state hold.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { native } from '../src/core/native';
import { OP_CODES, type BinaryOp, type InplaceOp, type UnaryOp } from '../src/tensor/op-table';
import { checkOpNames } from '../src/tensor/opcodes';

type Kind = keyof typeof OP_CODES;
interface Method {
  name: string;
  getter: boolean;
  args: string[];
}
interface TableOp {
  kind: Kind;
  name: string;
  code: number;
  dtype: string | null;
  methods: Method[];
}
interface Codegen {
  FILES: Record<string, string>;
  loadOps(table?: unknown): Record<Kind, TableOp[]>;
}

const root = path.resolve(__dirname, '..');
const script = path.join(root, 'scripts', 'codegen', 'generate-ops.js');
const load = createRequire(__filename);
const codegen = load(script) as Codegen;
const table = codegen.loadOps();
const kinds = Object.keys(OP_CODES) as Kind[];
const ops = kinds.flatMap((kind) => table[kind]);

describe('the generated files', () => {
  it('are what the generator makes of the table now (regenerate with npm run generate:ops)', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-ops-'));
    try {
      const r = spawnSync(process.execPath, [script, '--out', out], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      for (const file of Object.values(codegen.FILES)) {
        expect(fs.readFileSync(path.join(out, file), 'utf8'), `${file} is stale`).toBe(fs.readFileSync(path.join(root, file), 'utf8'));
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('carry a header naming their generator', () => {
    for (const file of Object.values(codegen.FILES)) {
      expect(fs.readFileSync(path.join(root, file), 'utf8'), file).toContain('scripts/codegen/generate-ops.js');
    }
  });

  it('come from a checked table: mistakes are refused with a reason', () => {
    const base = load(path.join(root, 'scripts', 'codegen', 'tensor-ops.js')) as Record<Kind, Record<string, unknown>[]>;
    const withUnary = (...extra: Record<string, unknown>[]) => ({ ...base, unary: [...base.unary, ...extra] });
    expect(() => codegen.loadOps(withUnary({ name: 'neg', aten: 'x.neg()', doc: 'Again.' }))).toThrow(/unary op neg: listed twice/);
    expect(() => codegen.loadOps(withUnary({ name: 'cube', aten: 'x.pow(3)', doc: 'x^3.', dtype: 'odd' }))).toThrow(/unknown dtype rule 'odd'/);
    expect(() => codegen.loadOps(withUnary({ name: 'cube', aten: 'x.pow(3)', doc: 'x^3.', methods: false }))).toThrow(/unknown field 'methods'/);
    expect(() => codegen.loadOps(withUnary({ name: 'cube', aten: 'x.pow(3)' }))).toThrow(/cube: needs a doc/);
    expect(() => codegen.loadOps(withUnary({ name: 'abs2', aten: 'x.abs()', doc: '|x|.', also: [{ name: 'abs', doc: 'Again.' }] }))).toThrow(/a second method named abs/);
  });
});

describe('every op of the table', () => {
  it('is in the native tables under the code TypeScript uses', () => {
    const names = native().opNames() as Record<Kind, string[]>;
    for (const kind of kinds) {
      expect(names[kind], kind).toEqual(table[kind].map((op) => op.name));
      for (const op of table[kind]) expect(OP_CODES[kind][op.name as keyof (typeof OP_CODES)[Kind]], `${kind} ${op.name}`).toBe(op.code);
    }
  });

  it('has its methods on Tensor', () => {
    const methods = ops.flatMap((op) => op.methods);
    expect(methods.length).toBeGreaterThan(80);
    for (const method of methods) {
      const property = Object.getOwnPropertyDescriptor(sn.Tensor.prototype, method.name);
      if (method.getter) expect(typeof property?.get, method.name).toBe('function');
      else expect(typeof property?.value, method.name).toBe('function');
    }
  });

  it('is what its methods dispatch to', () => {
    const binding = native();
    const saved = Object.fromEntries(kinds.map((kind) => [kind, binding[kind]]));
    let calls: [Kind, number][] = [];
    for (const kind of kinds) {
      binding[kind] = (code: number, handle: number) => {
        calls.push([kind, code]);
        return kind === 'inplace' ? undefined : binding.clone(handle);
      };
    }
    try {
      for (const op of ops) {
        for (const method of op.methods) {
          sn.scope(() => {
            const x = sn.ones([2, 2]);
            // Required parameters only: operands are tensors, dimensions 0.
            const args = method.args.filter((a) => !/[?=]/.test(a)).map((a) => (/number/.test(a) ? 0 : x));
            calls = [];
            const target = x as unknown as Record<string, (...a: unknown[]) => unknown>;
            const result = method.getter ? target[method.name] : target[method.name](...args);
            expect(calls, `${method.name}`).toEqual([[op.kind, op.code]]);
            if (op.kind === 'inplace') expect(result, `${method.name} returns this`).toBe(x);
          });
        }
      }
    } finally {
      Object.assign(binding, saved);
    }
  });
});

describe('the dtype rules the docs state', () => {
  const int64 = () => sn.tensor([[1, 2], [3, 4]], { dtype: 'int64' });
  const float32 = () => sn.tensor([[0.5, -0.25], [0.125, 0.75]]);
  // The op natively on x (and x again as the other operand).
  const run = (op: TableOp, x: sn.Tensor): sn.Tensor => {
    switch (op.kind) {
      case 'unary':
        return x.unary(op.name as UnaryOp);
      case 'binary':
        return x.binary(op.name as BinaryOp, x);
      case 'inplace':
        return x.clone().inplace(op.name as InplaceOp, x);
      case 'reduce':
        // reduce is private: the methods reach it, so reach it as they do.
        return (x as unknown as { reduce(name: string, dim: number, keepdim: boolean): sn.Tensor }).reduce(op.name, 0, false);
    }
  };
  const dtypeOf = (op: TableOp, x: () => sn.Tensor) => sn.scope(() => run(op, x()).dtype);
  const raises = (op: TableOp, x: () => sn.Tensor) => {
    let caught: unknown;
    sn.scope(() => {
      try {
        run(op, x());
      } catch (e) {
        caught = e;
      }
    });
    return caught instanceof sn.TorchError && caught.op === op.name;
  };
  const holds: Record<string, (op: TableOp) => boolean> = {
    float: (op) => dtypeOf(op, int64) === 'float32',
    floating: (op) => raises(op, int64) && !raises(op, float32),
    bool: (op) => dtypeOf(op, float32) === 'bool',
    integer: (op) => raises(op, float32) && !raises(op, int64),
    complex: (op) => raises(op, float32),
    int64: (op) => dtypeOf(op, float32) === 'int64',
  };

  for (const op of ops.filter((o) => o.dtype !== null)) {
    it(`${op.kind} ${op.name}: ${op.dtype}`, () => {
      expect(holds[op.dtype!], `no check for the rule '${op.dtype}'`).toBeDefined();
      expect(holds[op.dtype!](op)).toBe(true);
    });
  }
});

describe('the check at load', () => {
  it('accepts the loaded addon and refuses one built from another op list, saying what differs', () => {
    const names = native().opNames() as Record<Kind, string[]>;
    expect(() => checkOpNames(names)).not.toThrow();
    const swapped = { ...names, unary: [names.unary[1], names.unary[0], ...names.unary.slice(2)] };
    expect(() => checkOpNames(swapped)).toThrow(sn.LoadError);
    expect(() => checkOpNames(swapped)).toThrow(/unary op table does not match this build's op codes \(code 0 is 'abs' natively, 'neg' here\)/);
    const shorter = { ...names, reduce: names.reduce.slice(0, -1) };
    expect(() => checkOpNames(shorter)).toThrow(/reduce op table .*is no op natively, 'any' here/);
  });
});
