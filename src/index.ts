/**
 * skipnorm: normalised and residual networks over LibTorch from TypeScript.
 *
 * This module is the public API: tensors and autograd, with namespaces for
 * linear algebra, FFT, neural-network functions and CUDA.
 */
export { TorchError, AbortError, LoadError } from './core/errors';
export { scope, keep, dispose, memory, type MemoryInfo, type Disposable } from './core/memory';
export type { JobOptions } from './core/jobs';
export { Tensor, type Operand, type NestedArray, type ToOptions, type ValuesIndices } from './tensor/tensor';
export type { DType, TypedArrayFor, AnyTypedArray } from './tensor/dtype';
export type { Device } from './tensor/device';
export type { IndexSpec, SliceSpec } from './tensor/indexing';
export {
  tensor,
  fromTypedArray,
  zeros,
  ones,
  empty,
  full,
  zerosLike,
  onesLike,
  fullLike,
  eye,
  arange,
  linspace,
  rand,
  randn,
  randint,
  randperm,
  type TensorOptions,
  type RandomOptions,
} from './tensor/creation';
export { Generator, manualSeed } from './tensor/random';
export * from './tensor/ops';
export { noGrad, enableGrad, isGradEnabled, setGradEnabled, grad, type GradOptions } from './autograd';
export { info, version, setNumThreads, getNumThreads, setMainThreadNumThreads, getMainThreadNumThreads, type Info, type GpuInfo } from './info';

import * as linalg from './linalg';
import * as fft from './fft';
import * as cuda from './cuda';
import * as functional from './nn/functional';
import * as nn from './nn/index';
import * as models from './models/index';
import * as optim from './train/optim';
import * as spectra from './spectra/index';
import * as data from './data/index';
import * as distributed from './distributed';

export { linalg, fft, cuda, nn, models, optim, spectra, data, distributed };
export { fit, evaluate, snapshot, scheduleFactor, loadCheckpoint, latestCheckpoint, listCheckpoints, checkpointProblem, type CheckpointInfo, type EpochSums, type Schedule, type FitOptions, type FitResult, type TensorData, type FitData, type StepEvent, type EpochEvent, type EpochRecord, type ValidationEvent, type HookEvent, type EvaluateResult, type WeightSnapshot } from './train/index';
export { EventWriter, histogramOf, type Histogram } from './report/tensorboard';
/** torch.nn.functional's counterparts (also `nn.functional`). */
export { functional as F };
export { readSafetensors, readSafetensorsMetadata, writeSafetensors, SafetensorsError, type SafetensorsFile } from './io/safetensors';
export { save, load, hasArchitecture, architectureOf, type ArchitectureSpec } from './io/model_file';
