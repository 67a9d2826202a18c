/**
 * Multi-process collectives on c10d (PyTorch's distributed engine) over Gloo between CPUs or NCCL
 * between GPUs (native/distributed/process_group.cc): one process group per process, a TCPStore
 * rendezvous at masterAddr:masterPort (bound to that address; loopback by default). Collectives
 * are jobs: they wait off the event loop for every rank, and fail with the backend's error
 * (within timeoutMs) when a rank is gone, instead of hanging. The foundation of data-parallel
 * training.
 */
import { isMainThread } from 'node:worker_threads';

import { runJob } from './core/jobs';
import { native } from './core/native';
import { handleOf, type Tensor } from './tensor/tensor';

export interface InitOptions {
  rank: number;
  worldSize: number;
  /**
   * The rendezvous address (IPv4; default 127.0.0.1): rank 0's machine, where it listens. Anyone
   * who can reach that port can join the rendezvous: use an address on a private network.
   */
  masterAddr?: string;
  /** Default 29500. */
  masterPort?: number;
  /** Rendezvous and collective timeout (default 60,000 ms). */
  timeoutMs?: number;
  /**
   * 'gloo' (default): CPU tensors. 'nccl': CUDA tensors, one GPU per process (needs a CUDA build
   * with NCCL); each process should use its own device, e.g. cuda:(rank % GPUs per machine).
   */
  backend?: 'gloo' | 'nccl';
  /**
   * Gloo: the network interface (by name, e.g. 'eth1') this rank's connections use. Default: the
   * GLOO_SOCKET_IFNAME environment variable if set (as in PyTorch), else the interface of this
   * machine's route to masterAddr.
   */
  socketInterface?: string;
}

export type ReduceOp = 'sum' | 'avg' | 'max' | 'min' | 'product';

/** Joins the process group (resolves once every rank has joined). */
export async function init(options: InitOptions): Promise<void> {
  const op = 'distributed.init';
  if (!options || typeof options !== 'object') throw new TypeError(`${op}: expected { rank, worldSize, ... }`);
  const { rank, worldSize } = options;
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new TypeError(`${op}: worldSize must be a positive integer`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new TypeError(`${op}: rank must be an integer in 0..${worldSize - 1}`);
  const socketInterface = options.socketInterface ?? process.env.GLOO_SOCKET_IFNAME;
  if (socketInterface !== undefined && (typeof socketInterface !== 'string' || socketInterface === '')) throw new TypeError(`${op}: socketInterface must be a network interface's name`);
  return runJob<void, never>(op, () => native().distInit({ ...options, socketInterface })).then(() => {
    if (options.backend === 'nccl' && isMainThread) {
      process.removeListener('exit', leaveAtExit);
      process.once('exit', leaveAtExit);
    }
  });
}

// A process that exits without destroy() still leaves an NCCL group before native teardown: its
// communicators must go while CUDA is loaded (aborted, since a peer may be gone). Exiting goes on
// whatever happens here.
function leaveAtExit(): void {
  try {
    native().distDestroy(true);
  } catch {
    // nothing left to save at exit
  }
}

/** Reduces the tensor across ranks in place (contiguous; CPU with Gloo, CUDA with NCCL). */
export async function allReduce(tensor: Tensor, options: { op?: ReduceOp } = {}): Promise<void> {
  const op = 'distributed.allReduce';
  return runJob<void, never>(op, () => native().distAllReduce(handleOf(tensor, op), options.op ?? 'sum'));
}

/** Copies rank `root`'s tensor into every rank's, in place. */
export async function broadcast(tensor: Tensor, root = 0): Promise<void> {
  const op = 'distributed.broadcast';
  if (!Number.isInteger(root) || root < 0) throw new TypeError(`${op}: root must be a rank`);
  return runJob<void, never>(op, () => native().distBroadcast(handleOf(tensor, op), root));
}

/** Resolves once every rank has reached it. */
export async function barrier(): Promise<void> {
  return runJob<void, never>('distributed.barrier', () => native().distBarrier());
}

/** @internal */
export function state(): { initialized: boolean; rank: number; worldSize: number } {
  return native().distState() as { initialized: boolean; rank: number; worldSize: number };
}

export function isInitialized(): boolean {
  return state().initialized;
}

export function rank(): number {
  return state().rank;
}

export function worldSize(): number {
  return state().worldSize;
}

/** Leaves the process group (its store and the backend's connections close). */
export function destroy(): void {
  process.removeListener('exit', leaveAtExit);
  native().distDestroy(false);
}
