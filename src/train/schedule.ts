/**
 * Learning-rate schedules: multipliers of the optimiser's learning rate after t scheduler steps
 * (epochs or optimiser steps, as `fit`'s `scheduleUnit` says), the closed forms of PyTorch's
 * StepLR, MultiStepLR, CosineAnnealingLR, LinearLR (warm-up), ChainedScheduler and SequentialLR.
 */
import { native } from '../core/native';

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

/**
 * The multiplier at t: the native training loop's own computation (native/train/schedule.cc), so
 * plots, checks and callers that step a schedule themselves use the same one. A schedule that fit
 * would refuse is a TypeError here too.
 */
export function scheduleFactor(schedule: Schedule, t: number): number {
  if (schedule === null || typeof schedule !== 'object') throw new TypeError(`scheduleFactor: the schedule must be an object { kind, ... }, got ${JSON.stringify(schedule)}`);
  if (!Number.isSafeInteger(t) || t < 0) throw new TypeError(`scheduleFactor: t must be a non-negative integer, got ${String(t)}`);
  return native().scheduleFactor(schedule, t) as number;
}
