/**
 * Deterministic memory release. Tensors own native memory that V8's garbage collector cannot
 * see, so skipnorm frees it explicitly: `t.dispose()`, `using t = ...` (Symbol.dispose), or
 * `scope(fn)`, which disposes every tensor created inside fn except those it returns or
 * `keep()`s. Scopes follow async functions across `await` (AsyncLocalStorage). A
 * FinalizationRegistry releases tensors that were dropped without dispose: a safety net only,
 * since it runs whenever the garbage collector decides to, or never.
 *
 * Registering with a FinalizationRegistry costs about as much as a small LibTorch op, so new
 * tensors wait in a nursery and only those still alive at the next microtask checkpoint are
 * registered. Nothing is lost by the delay: finalisation callbacks never run inside synchronous
 * code anyway, and the nursery holds only the small JavaScript wrappers.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { native } from './native';

/** Anything that frees native memory when disposed. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

/** @internal What the safety net needs of a tracked object. */
export interface Tracked extends Disposable {
  /** Set once the object is registered with the FinalizationRegistry. */
  safetyNet: boolean;
}

class Scope {
  readonly owned = new Set<Disposable>();
  constructor(readonly parent: Scope | undefined) {}
}

const storage = new AsyncLocalStorage<Scope>();
let openScopes = 0;

const registry = new FinalizationRegistry<number>((handle) => {
  native().release(handle);
});

const NURSERY_LIMIT = 4096;
let nurseryObjects: Tracked[] = [];
let nurseryHandles: number[] = [];
let flushQueued = false;

function flushNursery(): void {
  flushQueued = false;
  const objects = nurseryObjects;
  const handles = nurseryHandles;
  nurseryObjects = [];
  nurseryHandles = [];
  for (let i = 0; i < objects.length; i++) {
    const object = objects[i];
    if (object.isDisposed) continue;
    registry.register(object, handles[i], object);
    object.safetyNet = true;
  }
}

/** Called for every tensor handed to JavaScript. */
export function track(object: Tracked, handle: number): void {
  if (openScopes > 0) storage.getStore()?.owned.add(object);
  nurseryObjects.push(object);
  nurseryHandles.push(handle);
  if (nurseryObjects.length >= NURSERY_LIMIT) {
    flushNursery();
  } else if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flushNursery);
  }
}

/** Called by dispose(): the safety net is no longer needed. */
export function untrack(object: Tracked): void {
  if (object.safetyNet) {
    registry.unregister(object);
    object.safetyNet = false;
  }
}

function isDisposable(value: object): boolean {
  try {
    return typeof (value as Disposable).dispose === 'function' && 'isDisposed' in value;
  } catch {
    return false; // a proxy that throws on unknown properties (e.g. a test framework's assertion)
  }
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if (isDisposable(value)) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collect(item, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) collect(item, out, depth + 1);
  }
}

function close(scope: Scope, result: unknown): void {
  const escaping = new Set<Disposable>();
  collect(result, escaping);
  for (const object of scope.owned) {
    if (escaping.has(object)) {
      scope.parent?.owned.add(object);  // returned tensors belong to the enclosing scope
    } else if (!object.isDisposed) {
      object.dispose();
    }
  }
  scope.owned.clear();
}

/**
 * Runs fn and disposes every tensor created inside it, except the ones it returns (found in
 * the returned value, arrays and plain objects) and those passed to `keep()`. If fn returns a
 * promise, disposal waits for it. Returned tensors join the enclosing scope, if any.
 */
export function scope<T>(fn: () => T): T {
  const current = new Scope(storage.getStore());
  openScopes++;
  let result: T;
  try {
    result = storage.run(current, fn);
  } catch (e) {
    openScopes--;
    close(current, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (value) => {
        openScopes--;
        close(current, value);
        return value;
      },
      (error) => {
        openScopes--;
        close(current, undefined);
        throw error;
      },
    ) as T;
  }
  openScopes--;
  close(current, result);
  return result;
}

/** Lets a tensor outlive every scope it was created in; the caller disposes it. */
export function keep<T extends Disposable>(object: T): T {
  for (let s = storage.getStore(); s; s = s.parent) s.owned.delete(object);
  return object;
}

/** Disposes every tensor found in a value (a tensor, or arrays and plain objects of them). */
export function dispose(value: unknown): void {
  const found = new Set<Disposable>();
  collect(value, found);
  for (const object of found) object.dispose();
}

export interface MemoryInfo {
  /** Tensors JavaScript holds and has not disposed. */
  tensors: number;
  /** Bytes of their distinct storages, on every device. */
  bytes: number;
  cpuBytes: number;
  cudaBytes: number;
}

/** Live tensors and the bytes they hold. */
export function memory(): MemoryInfo {
  return native().memory() as MemoryInfo;
}
