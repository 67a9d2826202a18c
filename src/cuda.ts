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
