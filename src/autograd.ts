/**
 * Grad mode and functional gradients. Grad mode is per thread, as in PyTorch; noGrad() and
 * enableGrad() take synchronous functions, since other code can run on this thread while an
 * async function awaits.
 */
import { native } from './core/native';
import { Tensor, handleOf, wrap } from './tensor/tensor';

function withGradMode<T>(enabled: boolean, fn: () => T, op: string): T {
  if (typeof fn !== 'function') throw new TypeError(`${op}: expected a function`);
  const previous = native().setGradEnabled(enabled) as boolean;
  let result: T;
  try {
    result = fn();
  } finally {
    native().setGradEnabled(previous);
  }
  if (result instanceof Promise) {
    throw new TypeError(`${op}: the function returned a promise; grad mode cannot follow an async function across await. Call ${op} inside it around the synchronous work.`);
  }
  return result;
}

/** Runs fn without recording operations for autograd (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn, 'noGrad');
}

/** Runs fn with gradient recording on, even inside noGrad (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn, 'enableGrad');
}

export function isGradEnabled(): boolean {
  return native().isGradEnabled() as boolean;
}

/** Sets grad mode for this thread; returns the previous setting. */
export function setGradEnabled(enabled: boolean): boolean {
  if (typeof enabled !== 'boolean') throw new TypeError('setGradEnabled: expected a boolean');
  return native().setGradEnabled(enabled) as boolean;
}

export interface GradOptions {
  gradOutputs?: Tensor[];
  retainGraph?: boolean;
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on, instead of failing. */
  allowUnused?: boolean;
}

/** Gradients of outputs with respect to inputs, without touching .grad (torch.autograd.grad). */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], options: GradOptions = {}): (Tensor | null)[] {
  const op = 'grad';
  const outs = (Array.isArray(outputs) ? outputs : [outputs]).map((t) => handleOf(t, op));
  const ins = (Array.isArray(inputs) ? inputs : [inputs]).map((t) => handleOf(t, op));
  const gradOutputs = options.gradOutputs ? options.gradOutputs.map((t) => handleOf(t, op)) : null;
  const createGraph = options.createGraph ?? false;
  const handles = native().autogradGrad(outs, ins, gradOutputs, options.retainGraph ?? createGraph, createGraph, options.allowUnused ?? false) as (number | null)[];
  return handles.map((h) => (h === null ? null : wrap(h)));
}
