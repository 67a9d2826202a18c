/** Seedable random number generation, as torch.Generator and torch.manual_seed. */
import { native } from '../core/native';

/** A CPU random generator with its own state; pass it as `{ generator }` to random factories. */
export class Generator {
  private handle: number;

  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new TypeError(`Generator: seed must be a non-negative integer, got ${seed}`);
    this.handle = native().newGenerator(seed) as number;
  }

  /** @internal */
  handleFor(op: string): number {
    if (this.handle < 0) throw new TypeError(`${op}: the generator was disposed`);
    return this.handle;
  }

  /** Resets the generator's state to the one this seed gives. */
  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new TypeError(`manualSeed: seed must be a non-negative integer, got ${seed}`);
    native().seedGenerator(this.handleFor('manualSeed'), seed);
    return this;
  }

  initialSeed(): number {
    return native().generatorSeed(this.handleFor('initialSeed')) as number;
  }

  dispose(): void {
    if (this.handle < 0) return;
    native().disposeGenerator(this.handle);
    this.handle = -1;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Seeds the default generators of every device, like torch.manual_seed. */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new TypeError(`manualSeed: seed must be a non-negative integer, got ${seed}`);
  native().manualSeed(seed);
}
