/** CUDA helpers, safe to call on machines and LibTorch builds without CUDA. */
import { native } from './core/native';

export function isAvailable(): boolean {
  return native().cudaIsAvailable() as boolean;
}

export function deviceCount(): number {
  return native().cudaDeviceCount() as number;
}

/** Returns cached, unused GPU memory to the driver (a no-op without CUDA). */
export function emptyCache(): void {
  native().cudaEmptyCache();
}

/** Waits for all work on a CUDA device (a no-op without CUDA). */
export function synchronize(device = 0): void {
  native().cudaSynchronize(device);
}

export interface MemoryStats {
  /** Bytes held by tensors (current, and the peak since the start or the last reset). */
  allocatedBytes: { current: number; peak: number };
  /** Bytes the caching allocator holds from the driver. */
  reservedBytes: { current: number; peak: number };
  /** Allocations that ran out of memory (each was a TorchError). */
  numOoms: number;
  /** The driver's free and total memory on the device. */
  freeBytes: number;
  totalBytes: number;
}

/** The caching allocator's statistics for a device (torch.cuda.memory_stats); a TorchError without CUDA. */
export function memoryStats(device = 0): MemoryStats {
  return native().cudaMemoryStats(device) as MemoryStats;
}

/** Starts the peaks of memoryStats over (torch.cuda.reset_peak_memory_stats). */
export function resetPeakMemoryStats(device = 0): void {
  native().cudaResetPeakMemoryStats(device);
}

/**
 * cuDNN's benchmark mode (torch.backends.cudnn.benchmark): reads it, or sets it when given. With
 * fixed input shapes it makes convolutions faster after the first step.
 */
export function cudnnBenchmark(enabled?: boolean): boolean {
  if (enabled !== undefined && typeof enabled !== 'boolean') throw new TypeError('cudnnBenchmark: expected a boolean');
  return native().cudnnBenchmark(enabled) as boolean;
}

/**
 * cuDNN's deterministic mode (torch.backends.cudnn.deterministic): reads it, or sets it when given.
 * With it, convolutions use only algorithms that give the same bits on every run.
 */
export function cudnnDeterministic(enabled?: boolean): boolean {
  if (enabled !== undefined && typeof enabled !== 'boolean') throw new TypeError('cudnnDeterministic: expected a boolean');
  return native().cudnnDeterministic(enabled) as boolean;
}

/** When training-mode BatchNorm2d and the ReLU after it run as one fused operation. */
export type FusedBatchNormMode = 'auto' | 'off' | 'always';

/**
 * Batch norm + ReLU fusion: reads the mode, or sets it when given (a process-wide setting, like
 * cudnnBenchmark). A BatchNorm2d in training mode followed by a ReLU, with or without a residual
 * addition between them (`relu(bn(x) + shortcut)`), in Sequential and Residual containers, zoo
 * models and traced graphs, runs as one operation: the statistics, normalisation, addition and
 * ReLU in two passes over the activations, and its backward in two more, where eager mode needs
 * separate passes for each. It updates the running statistics exactly as BatchNorm2d does.
 *
 * - `'auto'` (the default): on CUDA tensors in channels-last memory (float32, float16, bfloat16),
 *   through skipnorm's own CUDA kernels; everything else, the CPU included, runs unfused.
 * - `'off'`: never fused (to compare, or to rule it out).
 * - `'always'`: CUDA as in auto, and CPU tensors too, through the same formulas written with
 *   LibTorch's operations (not faster: for checking the fused path on any machine).
 *
 * Layer-by-layer measurements (Jacobian cuts, diagnostics, summaries) see every layer's own
 * output, so they run unfused whatever the mode.
 */
export function fusedBatchNorm(mode?: FusedBatchNormMode): FusedBatchNormMode {
  if (mode !== undefined && mode !== 'auto' && mode !== 'off' && mode !== 'always') {
    throw new TypeError(`fusedBatchNorm: expected 'auto', 'off' or 'always', got ${typeof mode === 'string' ? `'${mode}'` : typeof mode}`);
  }
  return native().fusedBatchNorm(mode) as FusedBatchNormMode;
}

/** How many fused batch norm + ReLU operations have run in this process: a way to see that a model takes the fused path. */
export function fusedBatchNormCalls(): number {
  return native().fusedBatchNormCalls() as number;
}
