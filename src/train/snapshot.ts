/**
 * Weight snapshots, also while `fit` trains the model. A running fit holds the model (every other
 * call on it is refused), so a snapshot is asked of the training thread, which copies the
 * parameters and buffers between two steps, where they are consistent, and posts the copies.
 */
import { native } from '../core/native';
import { Module, type StateDict } from '../nn/module';
import { wrap, type Tensor } from '../tensor/tensor';

export interface WeightSnapshot {
  /** The number of steps the run had done when the copy was made; null when no fit was running. */
  step: number | null;
  /** Parameters and buffers by PyTorch name: CPU copies that the caller owns (dispose them). */
  state: StateDict;
}

interface Waiter {
  resolve(snapshot: WeightSnapshot): void;
  reject(error: unknown): void;
}

// The models a fit is training, with the snapshots asked for and not served yet (in order).
const training = new WeakMap<Module, Waiter[]>();

function copyNow(model: Module): WeightSnapshot {
  const state: StateDict = {};
  for (const [name, view] of Object.entries(model.stateDict())) {
    state[name] = view.clone();
    view.dispose();
  }
  return { step: null, state };
}

/**
 * A copy of the model's parameters and buffers. While `fit` trains the model, the copy is made on
 * the training thread after the step in progress (or at the end of the run); otherwise at once.
 */
export async function snapshot(model: Module): Promise<WeightSnapshot> {
  if (!(model instanceof Module)) throw new TypeError('snapshot: the argument must be a Module');
  const waiters = training.get(model);
  if (!waiters) return copyNow(model);
  return new Promise<WeightSnapshot>((resolve, reject) => {
    waiters.push({ resolve, reject });
    native().requestFitSnapshot(model.moduleHandle('snapshot'));
  });
}

/** @internal fit's side: the model is training from now until `ended` is called. */
export function trainingStarted(model: Module): { served(step: number, handles: Record<string, number>): void; ended(): void } {
  const waiters: Waiter[] = [];
  training.set(model, waiters);
  return {
    served(step, handles) {
      const state: Record<string, Tensor> = {};
      for (const [name, h] of Object.entries(handles)) state[name] = wrap(h);
      const waiter = waiters.shift();
      if (waiter) waiter.resolve({ step, state });
      else for (const t of Object.values(state)) t.dispose();
    },
    // The run is over and the model free: requests it did not serve are copied now.
    ended() {
      training.delete(model);
      for (const waiter of waiters.splice(0)) {
        try {
          waiter.resolve(copyNow(model));
        } catch (e) {
          waiter.reject(e);
        }
      }
    },
  };
}
