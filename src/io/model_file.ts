/**
 * Models saved with their architecture: `save(model, file)` writes the state dict as safetensors
 * with the architecture in the header's metadata (`skipnorm.architecture`, JSON): a zoo model's
 * spec, a tree of layers and containers with their constructor options, or a traced module's
 * children, parameters and graph. `await load(file)` rebuilds the model from that alone (no user
 * class needed: a traced module comes back as a module that runs its graph natively) and loads
 * the weights strictly. A file whose architecture was tampered with (an unknown layer or
 * operation, a graph whose references do not point backwards, shapes that do not fit) is a
 * TorchError before any weight is used, never a crash.
 */
import { TorchError } from '../core/errors';
import { dispose } from '../core/memory';
import { native } from '../core/native';
import { buildModel, type ModelSpec } from '../models/index';
import { forwardNative, graphOf, inEvalWithoutGrad, isTracedModule, rememberLoadedGraph, traceInputFor, type GraphSpec } from '../nn/graph';
import { ModuleDict, ModuleList } from '../nn/holders';
import { createModule, Module } from '../nn/module';
import { isDType, type DType } from '../tensor/dtype';
import type { Tensor } from '../tensor/tensor';
import { zeros } from '../tensor/creation';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from './safetensors';

/** The metadata key that holds the architecture. */
export const ARCHITECTURE_KEY = 'skipnorm.architecture';
const FORMAT = 'skipnorm.module/1';

/** A module's architecture as plain data. */
export type ArchitectureSpec =
  | { zoo: ModelSpec }
  | { layer: string; options: Record<string, unknown>; weightNorm?: boolean }
  | { holder: 'ModuleList' | 'ModuleDict'; children: [string, ArchitectureSpec][] }
  | {
      traced: string;
      children: [string, ArchitectureSpec][];
      parameters: [string, { shape: number[]; dtype: DType }][];
      buffers: [string, { shape: number[]; dtype: DType }][];
      graph: GraphSpec;
    };

// Zoo models remember their spec, so that their files name them (buildModel sets it).
const zooSpecs = new WeakMap<Module, ModelSpec>();

/** @internal Records that a model is this zoo model. */
export function rememberZooSpec(model: Module, spec: ModelSpec): void {
  zooSpecs.set(model, { ...spec });
}

// Option keys of containers that hold [name, child] pairs (Sequential, Residual).
const CHILD_KEYS = ['children', 'pre', 'branch', 'post', 'projection', 'identityLike'];

function tensorShapes(module: Module, own: 'parameters' | 'buffers'): [string, { shape: number[]; dtype: DType }][] {
  const list = own === 'parameters' ? module.namedParameters() : module.namedBuffers();
  try {
    return list.filter(([name]) => !name.includes('.')).map(([name, t]) => [name, { shape: t.shape, dtype: t.dtype }]);
  } finally {
    for (const [, t] of list) t.dispose();
  }
}

/** The architecture of a module, as a model file records it. */
export function architectureOf(module: Module, op = 'save'): ArchitectureSpec {
  const zoo = zooSpecs.get(module);
  if (zoo) return { zoo: { ...zoo } };
  const children = (): [string, ArchitectureSpec][] => module.namedChildren().map(([n, c]) => [n, architectureOf(c, op)]);
  if (isTracedModule(module) || graphOf(module)) {
    const graph = graphOf(module);
    if (!graph) throw new TorchError(op, `${module.kind} has not been traced yet: call model.trace(input) (or train it) before saving it`);
    return { traced: module.kind, children: children(), parameters: tensorShapes(module, 'parameters'), buffers: tensorShapes(module, 'buffers'), graph };
  }
  const kind = module.kind;
  if (kind === 'ModuleList' || kind === 'ModuleDict') return { holder: kind, children: children() };
  const creation = module.creation;
  if (!creation) throw new TorchError(op, `cannot describe a ${kind} module's architecture (it was not made by a layer class, a container or the zoo)`);
  const byName = new Map(module.namedChildren());
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(creation.options)) {
    if (key === 'weightNorm') continue;
    options[key] = CHILD_KEYS.includes(key) && Array.isArray(value)
      ? (value as [string, number][]).map(([name]) => {
          const child = byName.get(name);
          if (!child) throw new TorchError(op, `${kind}: child '${name}' is unknown`);
          return [name, architectureOf(child, op)];
        })
      : value;
  }
  return creation.options.weightNorm ? { layer: creation.kind, options, weightNorm: true } : { layer: creation.kind, options };
}

/**
 * Saves a model's state dict with its architecture (safetensors; the architecture in the metadata
 * under `skipnorm.architecture`). Written atomically; other metadata may be added.
 */
export function save(model: Module, file: string, metadata: Record<string, string> = {}): void {
  const op = 'save';
  if (!(model instanceof Module)) throw new TypeError(`${op}: the first argument must be a Module`);
  if (typeof file !== 'string' || file === '') throw new TypeError(`${op}: file must be a path`);
  const architecture = JSON.stringify({ format: FORMAT, module: architectureOf(model, op) });
  const state = model.stateDict();
  try {
    writeSafetensors(file, state, { ...metadata, [ARCHITECTURE_KEY]: architecture });
  } finally {
    dispose(state);
  }
}

// ---- rebuilding --------------------------------------------------------------------------------

/** A module rebuilt from a file: a native layer, container or graph, with its children known. */
class RebuiltModule extends Module {
  constructor(handle: number, children: [string, Module][]) {
    super(handle);
    this.adoptChildren(children);
  }
}

function bad(file: string, detail: string): TorchError {
  return new TorchError('load', `${file}: the architecture is not valid: ${detail}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function namedList(v: unknown, file: string, what: string): [string, unknown][] {
  if (!Array.isArray(v) || !v.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string')) throw bad(file, `${what} must be [name, value] pairs`);
  return v as [string, unknown][];
}

function rebuild(spec: unknown, file: string, depth: number, made: Module[], temps: Tensor[]): Module {
  if (depth > 64) throw bad(file, 'modules are nested too deeply');
  if (!isObject(spec)) throw bad(file, 'a module is described by an object');
  const children = (v: unknown) => namedList(v, file, 'children').map(([n, c]) => [n, rebuild(c, file, depth + 1, made, temps)] as [string, Module]);
  let module: Module;
  if ('zoo' in spec) {
    if (!isObject(spec.zoo)) throw bad(file, 'a zoo spec is an object');
    module = buildModel(spec.zoo as ModelSpec);
    rememberZooSpec(module, spec.zoo as ModelSpec);
  } else if ('holder' in spec) {
    const list = children(spec.children);
    if (spec.holder === 'ModuleList') module = new ModuleList(list.map(([, m]) => m));
    else if (spec.holder === 'ModuleDict') module = new ModuleDict(Object.fromEntries(list));
    else throw bad(file, `unknown holder ${JSON.stringify(spec.holder)}`);
  } else if ('layer' in spec) {
    if (typeof spec.layer !== 'string' || !isObject(spec.options)) throw bad(file, 'a layer has a kind and options');
    const options: Record<string, unknown> = { ...spec.options };
    const adopted: [string, Module][] = [];
    for (const key of CHILD_KEYS) {
      if (!(key in options)) continue;
      const list = children(options[key]);
      adopted.push(...list);
      options[key] = list.map(([n, m]) => [n, m.moduleHandle('load')]);
    }
    module = new RebuiltModule(createModule(spec.layer, options), adopted);
    if (spec.weightNorm === true) {
      native().applyWeightNorm(module.moduleHandle('load'));
      module.creation!.options.weightNorm = true;
    }
  } else if ('traced' in spec) {
    if (typeof spec.traced !== 'string' || !isObject(spec.graph)) throw bad(file, 'a traced module has a class name and a graph');
    const list = children(spec.children);
    const tensors = (v: unknown, what: string) =>
      namedList(v, file, what).map(([n, d]) => {
        if (!isObject(d) || !Array.isArray(d.shape) || !d.shape.every((x) => Number.isInteger(x) && x >= 0) || !isDType(d.dtype as string) || d.shape.length > 16) {
          throw bad(file, `${what} '${n}' needs a shape and a dtype`);
        }
        const t = zeros(d.shape as number[], { dtype: d.dtype as DType });
        temps.push(t);
        return [n, t.handleFor('load')];
      });
    const handle = native().createGraphModule(spec.traced, list.map(([n, m]) => [n, m.moduleHandle('load')]), tensors(spec.parameters, 'parameter'), tensors(spec.buffers, 'buffer')) as number;
    module = new RebuiltModule(handle, list);
    native().setGraph(handle, spec.graph);
    // A graph whose shapes do not fit fails here, before any weights are used.
    checkRuns(module, spec.graph as unknown as GraphSpec);
    rememberLoadedGraph(module, spec.graph as unknown as GraphSpec);
  } else {
    throw bad(file, `a module is a zoo model, a layer, a holder or a traced module (keys: ${Object.keys(spec).join(', ')})`);
  }
  made.push(module);
  return module;
}

/** Runs a rebuilt graph once on a small input (eval, no gradients, modes kept) to check its shapes. */
function checkRuns(module: Module, graph: GraphSpec): void {
  const inputs = traceInputFor(module, graph);
  inEvalWithoutGrad(module, 'load', () => forwardNative(module, ...inputs).dispose(), () => dispose(inputs));
}

/** Whether a safetensors file records a model's architecture (saved by `save`). */
export function hasArchitecture(file: string): boolean {
  return ARCHITECTURE_KEY in readSafetensorsMetadata(file);
}

/**
 * Rebuilds a model saved by `save` (its architecture, then its weights, strictly). Traced modules
 * come back as modules running their saved graph natively, for inputs of the traced example shape.
 */
export async function load(file: string): Promise<Module> {
  const op = 'load';
  if (typeof file !== 'string' || file === '') throw new TypeError(`${op}: file must be a path`);
  const { tensors, metadata } = readSafetensors(file);
  const made: Module[] = [];
  const temps: Tensor[] = [];
  try {
    const text = metadata[ARCHITECTURE_KEY];
    if (text === undefined) throw new TorchError(op, `${file} records no architecture (it holds weights only: build the model, then loadStateDict)`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw bad(file, 'it is not JSON');
    }
    if (!isObject(parsed) || parsed.format !== FORMAT) throw bad(file, `unknown format ${JSON.stringify(isObject(parsed) ? parsed.format : parsed)} (expected ${FORMAT})`);
    const model = rebuild(parsed.module, file, 0, made, temps);
    model.loadStateDict(tensors);
    return model;
  } catch (e) {
    for (const m of made.reverse()) m.dispose();
    throw e;
  } finally {
    dispose(tensors);
    dispose(temps);
  }
}
