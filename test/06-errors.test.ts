/**
 * Layer 5: misuse a real user commits. Each case must raise a TorchError or a TypeError with a
 * message that says what went wrong, and the process must carry on working afterwards.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';

type Misuse = [name: string, run: () => unknown, kind: typeof sn.TorchError | typeof TypeError, message: RegExp];
type AnyFunction = (...args: never[]) => unknown;

// The async functions a namespace exports, with those of its namespaces (sn.linalg, ...) and its
// classes' async methods, by name.
function asyncExports(namespace: object, prefix = '', seen = new Set<unknown>()): [string, AnyFunction][] {
  const found: [string, AnyFunction][] = [];
  const isAsync = (f: unknown): f is AnyFunction => typeof f === 'function' && f.constructor.name === 'AsyncFunction';
  for (const [key, value] of Object.entries(namespace)) {
    if (seen.has(value)) continue;
    seen.add(value);
    if (isAsync(value)) found.push([prefix + key, value]);
    else if (typeof value === 'function' && value.prototype) {
      for (const method of Object.getOwnPropertyNames(value.prototype)) {
        const f = Object.getOwnPropertyDescriptor(value.prototype, method)?.value;
        if (isAsync(f)) found.push([`${prefix}${key}.prototype.${method}`, f]);
      }
    } else if (value !== null && typeof value === 'object') found.push(...asyncExports(value, `${prefix}${key}.`, seen));
  }
  return found;
}

const t23 = () => sn.ones([2, 3]);
const disposed = () => {
  const t = sn.ones([2]);
  t.dispose();
  return t;
};

const MISUSES: Misuse[] = [
  ['matmul with mismatched shapes', () => t23().matmul(t23()), sn.TorchError, /^matmul: mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/],
  ['add with non-broadcastable shapes', () => t23().add(sn.ones([4])), sn.TorchError, /^add: The size of tensor a \(3\) must match the size of tensor b \(4\)/],
  ['reshape to a wrong element count', () => t23().reshape(4, 2), sn.TorchError, /^reshape: shape '\[4, 2\]' is invalid for input of size 6/],
  ['view of a non-contiguous tensor', () => t23().t().view(6), sn.TorchError, /^view: view size is not compatible/],
  ['cat of tensors with different shapes', () => sn.cat([sn.ones([2, 3]), sn.ones([2, 4])], 0), sn.TorchError, /^cat: Sizes of tensors must match/],
  ['cat of an empty list', () => sn.cat([]), TypeError, /^cat: expected a non-empty array of tensors/],
  ['stack of non-tensors', () => sn.stack([1 as unknown as sn.Tensor]), TypeError, /^stack: every element must be a Tensor/],
  ['dimension out of range', () => t23().sum(5), sn.TorchError, /^sum: Dimension out of range/],
  ['index out of range', () => t23().index(7), sn.TorchError, /^index: index 7 is out of bounds for dimension 0 with size 2/],
  ['select out of range', () => t23().select(1, 3), sn.TorchError, /^select: select\(\): index 3 out of range/],
  ['a float index tensor', () => t23().index(sn.tensor([0.5])), sn.TorchError, /^index: tensors used as indices must be long, int, byte or bool/],
  ['an invalid slice string', () => t23().index('1:x'), TypeError, /^index: invalid slice '1:x'/],
  ['a fractional slice bound', () => t23().index({ start: 0.5 }), TypeError, /^index: slice start must be an integer or null, got 0.5/],
  ['a zero slice step', () => t23().index('::0'), TypeError, /^index: slice step must be positive/],
  ['use after dispose', () => disposed().add(1), sn.TorchError, /^add: the tensor was disposed \(use after dispose\)/],
  ['reading a disposed tensor', () => disposed().dataSync(), sn.TorchError, /^dataSync: the tensor was disposed/],
  ['a disposed operand', () => sn.ones([2]).add(disposed()), sn.TorchError, /^add: the tensor was disposed/],
  ['shape of a disposed tensor', () => disposed().shape, sn.TorchError, /^shape: the tensor was disposed/],
  ['an unknown dtype', () => sn.zeros([2], { dtype: 'float8' as sn.DType }), TypeError, /^zeros: unknown dtype 'float8'; expected one of/],
  ['an invalid device string', () => sn.zeros([2], { device: 'gpu' as sn.Device }), TypeError, /^zeros: invalid device "gpu"; expected 'cpu', 'cuda' or 'cuda:N'/],
  ['CUDA without CUDA', () => (sn.cuda.isAvailable() ? sn.ones([1]).to('cuda:99') : sn.ones([1]).to('cuda:0')), sn.TorchError, /CUDA|cuda|device/],
  ['to() with nonsense', () => sn.ones([1]).to('fast' as sn.DType), TypeError, /^to: 'fast' is neither a device/],
  ['a ragged nested array', () => sn.tensor([[1, 2], [3]]), TypeError, /^tensor: ragged nested array/],
  ['mixed value kinds', () => sn.tensor([1, true] as unknown as number[]), TypeError, /^tensor: all values must be of one kind/],
  ['strings as data', () => sn.tensor(['a'] as unknown as number[]), TypeError, /^tensor: values must be numbers, booleans or bigints/],
  ['typed array and shape disagree', () => sn.fromTypedArray(new Float32Array(5), [2, 3]), TypeError, /holds 5 elements but the shape needs 6/],
  ['a Uint16Array without a half dtype', () => sn.fromTypedArray(new Uint16Array(2), [2]), TypeError, /Uint16Array holds raw float16\/bfloat16 bits/],
  ['a Uint32Array', () => sn.fromTypedArray(new Uint32Array(2) as unknown as Float32Array, [2]), TypeError, /Uint32Array and BigUint64Array are not supported/],
  ['a fractional shape', () => sn.zeros([2.5]), TypeError, /^zeros: shape must be integers/],
  ['a negative shape', () => sn.zeros([-1]), sn.TorchError, /^zeros: .*negative/],
  ['randint with high <= low', () => sn.randint(5, 5, [2]), TypeError, /^randint: high \(5\) must be greater than low \(5\)/],
  ['arange with a zero step', () => sn.arange(0, 1, 0), TypeError, /^arange: step must not be zero/],
  ['item of a multi-element tensor', () => t23().item(), sn.TorchError, /^item: a Tensor with 6 elements cannot be converted to Scalar/],
  ['item of a complex tensor', () => sn.complex(sn.ones([1]), sn.ones([1])).item(), TypeError, /^item: item\(\) of a complex tensor/],
  ['requiresGrad on an integer tensor', () => sn.tensor([1], { dtype: 'int64' }).requiresGrad_(), sn.TorchError, /^requiresGrad_: Only Tensors of floating point/],
  ['backward of a tensor that needs no grad', () => sn.ones([1]).sum().backward(), sn.TorchError, /^backward: element 0 of tensors does not require grad/],
  ['conv2d with channel mismatch', () => sn.F.conv2d(sn.ones([1, 3, 8, 8]), sn.ones([4, 2, 3, 3])), sn.TorchError, /^conv2d: Given groups=1, weight of size \[4, 2, 3, 3\], expected input\[1, 3, 8, 8\] to have 2 channels/],
  ['conv2d with a negative stride', () => sn.F.conv2d(sn.ones([1, 1, 4, 4]), sn.ones([1, 1, 3, 3]), null, { stride: -1 }), TypeError, /^conv2d: stride must be an integer >= 1/],
  ['a kernel larger than the input', () => sn.F.maxPool2d(sn.ones([1, 1, 2, 2]), 5), sn.TorchError, /^maxPool2d: .*(Output size is too small|pad should be)/],
  ['cross entropy with float targets of the wrong shape', () => sn.F.crossEntropy(sn.ones([4, 3]), sn.ones([4])), sn.TorchError, /^crossEntropy: /],
  ['cross entropy with a label out of range', () => sn.F.crossEntropy(sn.ones([2, 3]), sn.tensor([0, 7], { dtype: 'int64' })), sn.TorchError, /^crossEntropy: Target 7 is out of bounds/],
  ['a bad reduction', () => sn.F.mseLoss(sn.ones([2]), sn.ones([2]), 'avg' as sn.F.Reduction), TypeError, /^mseLoss: reduction must be 'mean', 'sum' or 'none'/],
  ['softmax without a dimension', () => sn.F.softmax(sn.ones([2]), undefined as unknown as number), TypeError, /^softmax: dim must be an integer/],
  ['svd of a vector', () => sn.linalg.svdvals(sn.ones([3])), sn.TorchError, /^svdvals: .*at least 2 dimensions/],
  ['eigh of a non-square matrix', () => sn.linalg.eigh(t23()), sn.TorchError, /^eigh: .*square/],
  ['inverse of a singular matrix', () => sn.linalg.inv(sn.zeros([2, 2])), sn.TorchError, /^inv: .*singular/],
  ['cholesky of a non-positive-definite matrix', () => sn.linalg.cholesky(sn.tensor([[1, 2], [2, 1]])), sn.TorchError, /^cholesky: .*not positive-definite/],
  ['an unknown uplo', () => sn.linalg.eigh(sn.eye(2), 'X' as 'L'), TypeError, /^eigh: uplo must be 'L' or 'U'/],
  ['a bad FFT norm', () => sn.fft.fft(sn.ones([4]), undefined, -1, 'unitary' as sn.fft.FftNorm), TypeError, /^fft: norm must be 'backward', 'forward' or 'ortho'/],
  ['in-place op on a leaf that requires grad', () => sn.ones([2]).requiresGrad_().add_(1), sn.TorchError, /^add_: a leaf Variable that requires grad is being used in an in-place operation/],
  ['an operand that is not a tensor or number', () => sn.ones([2]).add('1' as unknown as number), TypeError, /^add: the other operand must be a Tensor or a number, got string/],
  ['a disposed generator', () => {
    const g = new sn.Generator(1);
    g.dispose();
    return sn.rand([2], { generator: g });
  }, TypeError, /^rand: the generator was disposed/],
  ['null where a tensor belongs', () => sn.F.conv2d(null as unknown as sn.Tensor, sn.ones([1, 1, 3, 3])), TypeError, /^conv2d: expected a Tensor, got null/],
  ['a plain array where a tensor belongs', () => sn.ones([2]).gather(0, [0] as unknown as sn.Tensor), TypeError, /^gather: expected a Tensor, got an array/],
  ['a number to fft', () => sn.fft.fft(3 as unknown as sn.Tensor), TypeError, /^fft: expected a Tensor, got number/],
  ['a negative seed', () => sn.manualSeed(-1), TypeError, /^manualSeed: seed must be a non-negative integer/],
  ['setNumThreads(0)', () => sn.setNumThreads(0), TypeError, /^setNumThreads: expected a positive integer/],
];

describe('misuse gives a clear, typed error and the process goes on', () => {
  it('at least 30 of the cases are distinct misuses: each raises a message of its own', () => {
    const messages = new Set<string>();
    for (const [, run] of MISUSES) {
      sn.scope(() => {
        try {
          run();
        } catch (e) {
          messages.add((e as Error).message);
        }
      });
    }
    expect(messages.size).toBeGreaterThanOrEqual(30);
  });

  for (const [name, run, kind, message] of MISUSES) {
    it(name, () => {
      let caught: unknown;
      sn.scope(() => {
        try {
          run();
        } catch (e) {
          caught = e;
        }
      });
      expect(caught, 'no error was raised').toBeInstanceOf(kind);
      const error = caught as Error;
      expect(error.message).toMatch(message);
      expect(error.message).not.toMatch(/Exception raised from|frame #\d/); // no C++ backtrace
      if (error instanceof sn.TorchError) {
        expect(error.name).toBe('TorchError');
        expect(error.message.startsWith(`${error.op}: `)).toBe(true);
      }
      // The process is alive and LibTorch still works.
      using check = sn.tensor([1, 2, 3]);
      expect(check.sum().item()).toBe(6);
    });
  }
});

// A TensorBoard writer whose folder is deleted under it.
function lostWriter(): sn.EventWriter {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-lost-'));
  const w = new sn.EventWriter(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  return w;
}

describe('async functions report misuse by rejecting, never by throwing', () => {
  // Each call must return a promise that rejects with a typed error naming the function.
  const model = () => sn.models.bnnet();
  const input = () => sn.rand([4, 1, 28, 28]);
  const labels = () => sn.randint(0, 10, [4]);
  const tiny = () => sn.data.fromTensors(sn.zeros([4, 2, 2, 1], { dtype: 'uint8' }), sn.zeros([4], { dtype: 'int64' }));
  const ASYNC_MISUSES: [name: string, target: AnyFunction, run: () => Promise<unknown>, message: RegExp][] = [
    ['jacobianSpectrum at an unknown cut', sn.spectra.jacobianSpectrum, () => sn.spectra.jacobianSpectrum(model(), input(), { cut: 'layer1.0' }), /^jacobianSpectrum: unknown cut 'layer1\.0'/],
    ['jacobianSpectrum with a bad mode', sn.spectra.jacobianSpectrum, () => sn.spectra.jacobianSpectrum(model(), input(), { mode: 'test' as 'train' }), /^jacobianSpectrum: mode must be/],
    ['layerwiseJacobianSpectra of a model without a stem', sn.spectra.layerwiseJacobianSpectra, () => sn.spectra.layerwiseJacobianSpectra(new sn.nn.Sequential({ a: new sn.nn.Flatten(), b: new sn.nn.Linear(784, 2) }), input(), { cut: ['stem'] }), /^layerwiseJacobianSpectra: this model has no stem/],
    ['fit without epochs or steps', sn.fit, () => sn.fit(model(), { input: input(), labels: labels() }, { optimizer: new sn.optim.SGD(model(), { lr: 0.1 }) }), /^fit: give exactly one of epochs and steps/],
    ['fit with a bad trackJacobian.cut', sn.fit, () => { const m = model(); return sn.fit(m, { input: input(), labels: labels() }, { optimizer: new sn.optim.SGD(m, { lr: 0.1 }), steps: 1, trackJacobian: { input: input(), every: 1, cut: 'nowhere' } }); }, /^fit: unknown trackJacobian\.cut 'nowhere'/],
    ['fit with a non-Module', sn.fit, () => sn.fit({} as sn.nn.Module, { input: input(), labels: labels() }, { optimizer: new sn.optim.SGD(model(), { lr: 0.1 }), steps: 1 }), /^fit: the first argument must be a Module/],
    ['evaluate with batchSize -1', sn.evaluate, () => sn.evaluate(model(), { input: input(), labels: labels() }, { batchSize: -1 }), /^evaluate: batchSize must be a positive integer/],
    ['weightSpectra with an unknown method', sn.spectra.weightSpectra, () => sn.spectra.weightSpectra(model(), { method: 'svd' as 'power', inputSize: [1, 28, 28] }), /^weightSpectra: /],
    ['diagnostics with a bad mode', sn.spectra.diagnostics, () => sn.spectra.diagnostics(model(), { input: input(), labels: labels() }, { mode: 'test' as 'train' }), /^diagnostics: /],
    ['svdvalsAsync of a number', sn.linalg.svdvalsAsync, () => sn.linalg.svdvalsAsync(3 as unknown as sn.Tensor), /^svdvals: expected a Tensor/],
    ['powerIteration with 0 iterations', sn.linalg.powerIteration, () => sn.linalg.powerIteration(sn.ones([3, 3]), { iterations: 0 }), /^powerIteration: /],
    ['distributed.init with a bad rank', sn.distributed.init, () => sn.distributed.init({ rank: 3, worldSize: 2 }), /^distributed\.init: rank must be/],
    ['allReduce of a disposed tensor', sn.distributed.allReduce, () => sn.distributed.allReduce(disposed()), /distributed\.allReduce: .*disposed/],
    ['mnist with a bad split', sn.data.mnist, () => sn.data.mnist({ root: '.', split: 'dev' as 'test' }), /^mnist: split must be 'train' or 'test'/],
    ['a batch that does not exist', sn.data.DataLoader.prototype.batch, () => new sn.data.DataLoader(tiny(), { batchSize: 2 }).batch(0, 7), /^DataLoader\.batch: batch 7 does not exist/],
    ['pack with a bad size', sn.data.Dataset.prototype.pack, () => tiny().pack('x.pack', { size: 0 }), /^Dataset\.pack: size must be/],
    ['a job with a bad signal', sn.linalg.powerIteration, () => sn.linalg.powerIteration(sn.ones([3, 3]), { signal: 'stop' as unknown as AbortSignal }), /signal must be an AbortSignal/],
    ['svdAsync of a number', sn.linalg.svdAsync, () => sn.linalg.svdAsync(3 as unknown as sn.Tensor), /^svd: expected a Tensor/],
    ['eighAsync of a non-square matrix', sn.linalg.eighAsync, () => sn.linalg.eighAsync(sn.ones([2, 3])), /^eigh: .*square/],
    ['qrAsync of null', sn.linalg.qrAsync, () => sn.linalg.qrAsync(null as unknown as sn.Tensor), /^qr: expected a Tensor/],
    ['matmulAsync with mismatched shapes', sn.linalg.matmulAsync, () => sn.linalg.matmulAsync(sn.ones([2, 3]), sn.ones([2, 3])), /^matmul: mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/],
    ['cifar10 with a bad split', sn.data.cifar10, () => sn.data.cifar10({ root: '.', split: 'dev' as 'test' }), /^cifar10: split must be 'train' or 'test'/],
    ['cifar100 with a bad split', sn.data.cifar100, () => sn.data.cifar100({ root: '.', split: 'dev' as 'test' }), /^cifar100: split must be 'train' or 'test'/],
    ['imageFolder with a bad onCorrupt', sn.data.imageFolder, () => sn.data.imageFolder({ root: '.', onCorrupt: 'maybe' as 'skip' }), /^imageFolder: onCorrupt must be 'fail' or 'skip'/],
    ['packed without a path', sn.data.packed, () => sn.data.packed(42 as unknown as string), /^packed: root must be a folder path/],
    ['broadcast before init', sn.distributed.broadcast, () => sn.distributed.broadcast(sn.ones([2])), /^distributed\.broadcast: the process group is not initialised/],
    ['barrier before init', sn.distributed.barrier, () => sn.distributed.barrier(), /^distributed\.barrier: the process group is not initialised/],
    ['data() of a disposed tensor', sn.Tensor.prototype.data, () => disposed().data(), /^data: the tensor was disposed/],
    ['EventWriter.flush after its folder was removed', sn.EventWriter.prototype.flush, () => { const w = lostWriter(); w.scalar('loss', 0, 1); return w.flush(); }, /^EventWriter\.flush: cannot write .*events\.out\.tfevents/],
    ['EventWriter.close after its folder was removed', sn.EventWriter.prototype.close, () => { const w = lostWriter(); w.scalar('loss', 0, 1); return w.close(); }, /^EventWriter\.close: cannot write .*events\.out\.tfevents/],
    ['snapshot of something that is not a Module', sn.snapshot, () => sn.snapshot({} as sn.nn.Module), /^snapshot: the argument must be a Module/],
    ['load of a path that is not a string', sn.load, () => sn.load(42 as unknown as string), /^load: file must be a path/],
    ['stats with a progress callback that is not a function', sn.data.Dataset.prototype.stats, () => tiny().stats({ onProgress: 5 as unknown as () => void }), /^Dataset\.stats: onProgress must be a function/],
  ];

  it('the cases cover every async function and method skipnorm exports', () => {
    const covered = new Set(ASYNC_MISUSES.map(([, target]) => target));
    expect(asyncExports(sn).filter(([, f]) => !covered.has(f)).map(([name]) => name)).toEqual([]);
  });

  for (const [name, , run, message] of ASYNC_MISUSES) {
    it(name, async () => {
      let returned: unknown;
      expect(() => (returned = run()), 'threw synchronously').not.toThrow();
      expect(returned).toBeInstanceOf(Promise);
      const error = await (returned as Promise<unknown>).then(() => null, (e: unknown) => e);
      expect(error, 'the promise resolved').not.toBeNull();
      expect((error as Error).message).toMatch(message);
      expect(error instanceof TypeError || error instanceof RangeError || error instanceof sn.TorchError, String(error)).toBe(true);
    });
  }
});
