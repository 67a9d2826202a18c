/** What skipnorm runs on: versions, CUDA, devices and threads. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, PACKAGE_ROOT } from './core/native';

export interface Info {
  /** skipnorm's version. */
  version: string;
  /** The LibTorch version the addon was built against and runs with. */
  libtorch: string;
  /** Whether CUDA is usable (a CUDA build of LibTorch and a GPU). */
  cuda: boolean;
  builtWithCuda: boolean;
  cudaVersion?: number;
  cudnn?: number | null;
  /** 'cpu', then 'cuda:0', 'cuda:1', ... */
  devices: string[];
  /** The GPUs, as the CUDA runtime describes them (empty without CUDA). */
  gpus: GpuInfo[];
  /** LibTorch's intra-op threads in skipnorm's jobs (training, spectra, async ops). */
  threads: number;
  /** LibTorch's intra-op threads for operations called on the JavaScript thread (default 1). */
  mainThreadThreads: number;
  interopThreads: number;
  /** Where the addon's LibTorch came from (LIBTORCH, python, system, skipnorm's own). */
  libtorchSource?: string;
  libtorchDir?: string;
  node: string;
  platform: string;
}

export interface GpuInfo {
  device: string;
  name: string;
  memoryBytes: number;
  /** e.g. '9.0' for an H100. */
  computeCapability: string;
  multiprocessors: number;
}

export function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

function buildRecord(): { libtorchSource?: string; libtorchDir?: string } {
  const file = path.join(PACKAGE_ROOT, 'build', 'skipnorm-build.json');
  if (!fs.existsSync(file)) return {};
  const { libtorchSource, libtorchDir } = JSON.parse(fs.readFileSync(file, 'utf8'));
  return { libtorchSource, libtorchDir };
}

export function info(): Info {
  const n = native().info() as Omit<Info, 'version' | 'node' | 'platform'> & { parallel: string; cxx11Abi: boolean };
  const { parallel: _parallel, cxx11Abi: _abi, ...rest } = n;
  return { version: version(), ...rest, ...buildRecord(), node: process.version, platform: `${process.platform}-${process.arch}` };
}

/** LibTorch's intra-op thread count in skipnorm's jobs (default: what LibTorch picks, the cores). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`setNumThreads: expected a positive integer, got ${n}`);
  native().setNumThreads(n);
}

export function getNumThreads(): number {
  return native().getNumThreads() as number;
}

/**
 * LibTorch's intra-op thread count for operations called synchronously on the JavaScript thread
 * (default 1). More makes big synchronous ops faster, but the extra OpenMP team stays alive and
 * slows jobs that run afterwards (measured: 2.3x on a small MLP's training steps); prefer jobs
 * (fit, ...Async) for heavy work.
 */
export function setMainThreadNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`setMainThreadNumThreads: expected a positive integer, got ${n}`);
  native().setMainThreadNumThreads(n);
}

export function getMainThreadNumThreads(): number {
  return native().getMainThreadNumThreads() as number;
}
