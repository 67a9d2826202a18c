/**
 * What an experiment runs with, for its config.json and report: skipnorm's, LibTorch's and CUDA's
 * versions, the device the models train on and the threads (from info(), as `skipnorm info` shows
 * them). Numbers can differ between environments by float rounding, so a report says which one
 * produced it.
 */
import { info } from '../info';

export interface RunEnvironment {
  skipnorm: string;
  libtorch: string;
  /** The CUDA runtime's version ('12.4'), or why there is none. */
  cuda: string;
  cudnn: number | null;
  /** Where the models train: 'cpu', or 'cuda:0 (the GPU's name)'. */
  device: string;
  threads: {
    /** LibTorch's intra-op threads in skipnorm's jobs (training, spectra). */
    intraOp: number;
    /** LibTorch's intra-op threads for operations on the JavaScript thread. */
    mainThread: number;
    interOp: number;
    /** The data loader's decoding threads, where the experiment uses a loader. */
    loader?: number;
  };
  node: string;
  platform: string;
}

// CUDA encodes versions as major * 1000 + minor * 10.
const cudaVersionString = (v: number) => `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;

/** The environment of a run on `device` ('cpu' or 'cuda:N'). */
export function runEnvironment(device: string, loaderThreads?: number): RunEnvironment {
  const i = info();
  const gpu = i.gpus.find((g) => g.device === device);
  const cuda = i.cuda && i.cudaVersion !== undefined ? cudaVersionString(i.cudaVersion) : i.builtWithCuda ? 'none (a CUDA build of LibTorch, no GPU visible)' : 'none (a CPU build of LibTorch)';
  return {
    skipnorm: i.version,
    libtorch: i.libtorch,
    cuda,
    cudnn: i.cudnn ?? null,
    device: gpu ? `${device} (${gpu.name})` : device,
    threads: { intraOp: i.threads, mainThread: i.mainThreadThreads, interOp: i.interopThreads, ...(loaderThreads !== undefined ? { loader: loaderThreads } : {}) },
    node: i.node,
    platform: i.platform,
  };
}

/** One sentence for a report. */
export function describeEnvironment(e: RunEnvironment): string {
  const loader = e.threads.loader !== undefined ? `, ${e.threads.loader} data loader threads` : '';
  return (
    `skipnorm ${e.skipnorm}, LibTorch ${e.libtorch}, CUDA ${e.cuda}${e.cudnn !== null ? ` (cuDNN ${e.cudnn})` : ''}, device ${e.device}; ` +
    `threads: ${e.threads.intraOp} intra-op in jobs, ${e.threads.mainThread} on the JavaScript thread, ${e.threads.interOp} inter-op${loader}; Node ${e.node} on ${e.platform}.`
  );
}
