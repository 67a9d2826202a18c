/**
 * Cut points for the Jacobian probe (native/spectra/cuts.cc). A cut is any module of the model,
 * named by its dotted path as `model.namedModules()` lists it (`layer2.1`, `layer2.1.bn2`): the
 * probe's Jacobian is that of the model's output with respect to that module's output, everything
 * that does not depend on it (a skip connection around it) held fixed. 'stem' names the model's
 * stem: the `stem` option, or else the top-level layer before the first top-level `Block*` or
 * `layer*` (BNNet: avg; the ResNets: their stem convolution, or max-pool).
 */
import { TorchError } from '../core/errors';
import { native } from '../core/native';
import { Module } from '../nn/module';
import { prepareForInput, signatureOf } from '../nn/graph';
import { handleOf, Tensor } from '../tensor/tensor';

export interface CutPointsOptions {
  /**
   * How many levels of containers to look inside (default 2): the model's children are level 1;
   * a child that is a container (Sequential, a traced graph) stands for its own children while
   * within `depth` levels. A pre-activation ResNet-18 at depth 2: conv1, layer1.0 .. layer4.1,
   * pool, flatten.
   */
  depth?: number;
}

/** @internal A cut as asked (`name`: 'stem' or a module name) and the module it names. */
export interface ResolvedCut {
  name: string;
  module: string;
}

interface Probe {
  points: [string, number][];
  asked: [number, boolean, number][];
}

// Edit distance (insertions, deletions, substitutions), for suggesting names.
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[b.length];
}

/** @internal The `count` names closest to `name` by edit distance, closest first. */
export function nearestNames(name: string, names: string[], count = 5): string[] {
  return names
    .map((n, i) => ({ n, i, d: editDistance(name, n) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, count)
    .map((x) => x.n);
}

function moduleNames(model: Module): string[] {
  return model
    .namedModules()
    .map((m) => m.name)
    .filter((n) => n !== '');
}

// A module name of the model, or a TorchError with the nearest names (`what`: the option).
function moduleName(names: string[], name: string, op: string, what: string): string {
  if (names.includes(name)) return name;
  throw new TorchError(op, `unknown ${what} '${name}'; the nearest module names: ${nearestNames(name, names).join(', ')} (model.namedModules() lists them all)`);
}

/** The module 'stem' names: `stem` when given, else the guess; null when there is no guess. */
function stemOf(model: Module, names: string[], stem: string | undefined, op: string, stemWhat: string): string | null {
  if (stem !== undefined) {
    if (typeof stem !== 'string') throw new TypeError(`${op}: ${stemWhat} must be a module name, got ${typeof stem}`);
    return moduleName(names, stem, op, stemWhat);
  }
  const top = names.filter((n) => !n.includes('.'));
  const firstBlock = top.findIndex((n) => /^(Block|layer)\d/.test(n));
  return firstBlock > 0 ? top[firstBlock - 1] : null;
}

/**
 * The module a cut names: 'stem' (see `stem`) or a module's dotted name. Errors name `op` and
 * the option (`what`); an unknown name lists the nearest ones.
 */
export function resolveCut(model: Module, cut: string, op = 'jacobianSpectrum', what = 'cut', stem?: string): string {
  if (typeof cut !== 'string') throw new TypeError(`${op}: ${what} must be a module name or 'stem'`);
  const names = moduleNames(model);
  const stemWhat = what.replace(/cut$/, 'stem');
  if (cut !== 'stem') return moduleName(names, cut, op, what);
  const found = stemOf(model, names, stem, op, stemWhat);
  if (found === null) {
    throw new TorchError(op, `this model has no stem that can be guessed (no top-level Block* or layer* after other layers): pass ${stemWhat} with the stem's module name, e.g. { ${stemWhat.replace(/.*\./, '')}: '${names[0] ?? 'conv1'}' }`);
  }
  return found;
}

function checkDepth(depth: unknown, op: string, what: string): number {
  const d = depth ?? 2;
  if (!Number.isInteger(d) || (d as number) < 1) throw new TypeError(`${op}: ${what} must be a positive integer, got ${JSON.stringify(depth)}`);
  return d as number;
}

function probe(model: Module, input: Tensor, depth: number, asked: string[], op: string): Probe {
  const handle = handleOf(input, op);
  prepareForInput(model, signatureOf([input], op), op);  // traced modules: their graphs for this input
  try {
    return native().probeCuts(model.moduleHandle(op), handle, depth, asked) as Probe;
  } catch (e) {
    if (e instanceof TorchError) throw new TorchError(op, e.detail);
    throw e;
  }
}

/**
 * The layer-wise cut points of a model on an input, in the order they run: the model's children,
 * each container among them (within `depth` levels) replaced by its own children (and followed
 * by itself when its output is computed after them, as a traced graph's may be); holders
 * (ModuleList, ModuleDict) are looked inside without counting a level. Left out: modules that do
 * not run exactly once, and those whose output is the model's output. One forward pass of `input`
 * in eval mode without gradients finds them (running statistics and modes are left as they were).
 */
export function cutPoints(model: Module, input: Tensor, options: CutPointsOptions = {}): string[] {
  const op = 'cutPoints';
  if (!(model instanceof Module)) throw new TypeError(`${op}: the first argument must be a Module`);
  return probe(model, input, checkDepth(options.depth, op, 'depth'), [], op).points.map(([name]) => name);
}

/**
 * @internal The cuts a layer-wise measurement (or fit's tracking) makes, checked on `input`:
 * 'all' is every cut point from the stem on (the stem first, named 'stem'; every cut point when
 * the model has no stem to guess and none is given); a list names each cut. Errors name `op` and
 * the option (`what`: 'cut' or 'trackJacobian.cut').
 */
export function resolveCuts(model: Module, input: Tensor, cut: string | string[], options: { depth?: number; stem?: string }, op: string, what = 'cut'): ResolvedCut[] {
  const prefix = what.replace(/cut$/, '');
  const depth = checkDepth(options.depth, op, `${prefix}depth`);
  if (cut === 'all') {
    const names = moduleNames(model);
    const stem = stemOf(model, names, options.stem, op, `${prefix}stem`);
    const p = probe(model, input, depth, stem === null ? [] : [stem], op);
    let cuts = p.points.map(([name]) => ({ name, module: name }));
    if (stem !== null) {
      checkRuns(stem, 'stem', p.asked[0], op);
      const order = p.asked[0][2];
      cuts = [{ name: 'stem', module: stem }, ...p.points.filter(([name, o]) => o > order && name !== stem).map(([name]) => ({ name, module: name }))];
    }
    if (cuts.length === 0) throw new TorchError(op, 'this model has no cut points: no module inside it runs once before its output');
    return cuts;
  }
  const list = typeof cut === 'string' ? [cut] : cut;
  if (!Array.isArray(list) || list.length === 0 || !list.every((c) => typeof c === 'string')) {
    throw new TypeError(`${op}: ${what} must be 'all', a module name or 'stem', or a non-empty list of them`);
  }
  if (list.includes('all')) throw new TypeError(`${op}: 'all' cannot be one of a list of cuts: give ${what}: 'all' alone`);
  const cuts = list.map((c) => ({ name: c, module: resolveCut(model, c, op, what, options.stem) }));
  const p = probe(model, input, depth, cuts.map((c) => c.module), op);
  cuts.forEach((c, i) => checkRuns(c.module, c.name, p.asked[i], op));
  return cuts;
}

// The same checks the measurement makes (native/spectra/jacobian.cc), before any of it starts.
function checkRuns(module: string, name: string, [calls, output]: [number, boolean, number], op: string): void {
  const shown = name === module ? `'${module}'` : `'${name}' ('${module}')`;
  if (calls === 0) throw new TorchError(op, `the cut ${shown} never runs in a forward pass of this model on this input (a path its block does not use?): choose a module that runs`);
  if (calls > 1) throw new TorchError(op, `the cut ${shown} runs ${calls} times in one forward pass (a module used more than once, as shared weights are): a cut must run once`);
  if (output) throw new TorchError(op, `the cut ${shown} gives the model's output: nothing comes after it`);
}
