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
