/**
 * Modules that hold modules for a parent's forward to call, as torch.nn's ModuleList and
 * ModuleDict: their items are registered under their index or key (`blocks.0.conv1`), so their
 * parameters belong to the model, but a holder has no forward of its own.
 */
import { native } from '../core/native';
import { Module } from './module';

function checkModule(value: unknown, where: string, op: string): Module {
  if (!(value instanceof Module)) throw new TypeError(`${op}: ${where} is not a Module`);
  return value;
}

/** A list of modules: `new sn.nn.ModuleList([a, b])`, iterable, `at(i)`, `length`, `append(m)`. */
export class ModuleList extends Module implements Iterable<Module> {
  #items: Module[];

  constructor(modules: Module[] = []) {
    const op = 'ModuleList';
    if (!Array.isArray(modules)) throw new TypeError(`${op}: expected an array of modules`);
    const items = modules.map((m, i) => checkModule(m, `item ${i}`, op));
    super(native().createModuleHolder(op, items.map((m, i) => [String(i), m.moduleHandle(op)])) as number);
    this.#items = items;
    this.adoptChildren(items.map((m, i) => [String(i), m]));
  }

  get length(): number {
    return this.#items.length;
  }

  /** The item at an index (negative counts from the end), as Array's `at`. */
  at(index: number): Module {
    const m = this.#items.at(index);
    if (!Number.isInteger(index) || m === undefined) throw new RangeError(`ModuleList.at: index ${index} is out of range for ${this.#items.length} modules`);
    return m;
  }

  /** Adds a module at the end (registered as the next index); returns this. */
  append(module: Module): this {
    const op = 'ModuleList.append';
    checkModule(module, 'the argument', op);
    native().holderAdd(this.moduleHandle(op), String(this.#items.length), module.moduleHandle(op));
    this.#items.push(module);
    this.adoptChildren(this.#items.map((m, i) => [String(i), m]));
    return this;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.#items.slice()[Symbol.iterator]();
  }
}

/** Modules by key, in insertion order: `new sn.nn.ModuleDict({ relu: a, gelu: b })`, `get(key)`. */
export class ModuleDict extends Module {
  #items: Map<string, Module>;

  constructor(modules: Record<string, Module> = {}) {
    const op = 'ModuleDict';
    if (modules === null || typeof modules !== 'object' || Array.isArray(modules)) throw new TypeError(`${op}: expected an object of modules`);
    const entries = Object.entries(modules).map(([k, m]) => [k, checkModule(m, `'${k}'`, op)] as [string, Module]);
    for (const [k] of entries) if (k === '' || k.includes('.')) throw new TypeError(`${op}: key '${k}' must be non-empty and contain no '.'`);
    super(native().createModuleHolder(op, entries.map(([k, m]) => [k, m.moduleHandle(op)])) as number);
    this.#items = new Map(entries);
    this.adoptChildren(entries);
  }

  get size(): number {
    return this.#items.size;
  }

  has(key: string): boolean {
    return this.#items.has(key);
  }

  get(key: string): Module {
    const m = this.#items.get(key);
    if (!m) throw new RangeError(`ModuleDict.get: no module under '${key}' (keys: ${[...this.#items.keys()].join(', ')})`);
    return m;
  }

  /** Adds a module under a new key; returns this. */
  set(key: string, module: Module): this {
    const op = 'ModuleDict.set';
    checkModule(module, 'the module', op);
    if (typeof key !== 'string' || key === '' || key.includes('.')) throw new TypeError(`${op}: key must be a non-empty string without '.'`);
    native().holderAdd(this.moduleHandle(op), key, module.moduleHandle(op));
    this.#items.set(key, module);
    this.adoptChildren([...this.#items]);
    return this;
  }

  keys(): string[] {
    return [...this.#items.keys()];
  }

  values(): Module[] {
    return [...this.#items.values()];
  }

  entries(): [string, Module][] {
    return [...this.#items];
  }
}
