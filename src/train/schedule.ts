/**
 * Learning-rate schedules: multipliers of the optimiser's learning rate after t scheduler steps
 * (epochs or optimiser steps, as `fit`'s `scheduleUnit` says), the closed forms of PyTorch's
 * StepLR, MultiStepLR, CosineAnnealingLR, LinearLR (warm-up), ChainedScheduler and SequentialLR.
 */
export type Schedule =
  | { kind: 'constant' }
  | { kind: 'step'; stepSize: number; gamma?: number }
  | { kind: 'multistep'; milestones: number[]; gamma?: number }
  /** eta_min = minRatio * the base learning rate; like PyTorch's, it rises again after tMax. */
  | { kind: 'cosine'; tMax: number; minRatio?: number }
  /** From startFactor (default 1/3) to 1 over `steps`. */
  | { kind: 'warmup'; steps: number; startFactor?: number }
  /** The product of the parts' multipliers. */
  | { kind: 'chain'; parts: Schedule[] }
  /** Part k from milestone k-1 on, counting from there. */
  | { kind: 'sequential'; parts: Schedule[]; milestones: number[] };

/** The multiplier at t, as the native training loop computes it (for plots and checks). */
export function scheduleFactor(schedule: Schedule, t: number): number {
  switch (schedule.kind) {
    case 'constant':
      return 1;
    case 'step':
      return (schedule.gamma ?? 0.1) ** Math.floor(t / schedule.stepSize);
    case 'multistep':
      return (schedule.gamma ?? 0.1) ** schedule.milestones.filter((m) => m <= t).length;
    case 'cosine': {
      const r = schedule.minRatio ?? 0;
      return r + ((1 - r) * (1 + Math.cos((Math.PI * t) / schedule.tMax))) / 2;
    }
    case 'warmup': {
      const s = schedule.startFactor ?? 1 / 3;
      return s + ((1 - s) * Math.min(t, schedule.steps)) / schedule.steps;
    }
    case 'chain':
      return schedule.parts.reduce((f, p) => f * scheduleFactor(p, t), 1);
    case 'sequential': {
      const k = schedule.milestones.filter((m) => m <= t).length;
      return scheduleFactor(schedule.parts[k], t - (k === 0 ? 0 : schedule.milestones[k - 1]));
    }
    default:
      throw new TypeError(`scheduleFactor: unknown schedule ${JSON.stringify(schedule)}`);
  }
}
