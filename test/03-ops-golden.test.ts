/**
 * Parity with PyTorch: every case of test/golden/core.json (written by scripts/golden/core.py)
 * is computed here with skipnorm's API under the same name. Outputs and gradients must agree
 * within 1e-6 relative error (float32/float64), or a multiple of PyTorch's own float32 rounding
 * where that is larger (helpers.ts, ROUNDING_ALLOWANCE); integer and boolean outputs exactly.
 */
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { fromGolden, goldenValues, readGolden, relativeError, withRounding, type GoldenTensor } from './helpers';

const F = sn.F;
type T = sn.Tensor;
type Case = (...inputs: T[]) => T | T[];

const CASES: Record<string, Case> = {
  add_broadcast: (a, b) => a.add(b),
  sub: (a, b) => a.sub(b),
  mul_broadcast: (a, b) => a.mul(b),
  div: (a, b) => a.div(b),
  add_scalar: (a) => a.add(2.5),
  rsub_scalar: (a) => sn.sub(2, a),
  rdiv_scalar: (a) => sn.div(3, a),
  pow: (a, b) => a.pow(b),
  pow_scalar: (a) => a.pow(1.7),
  maximum: (a, b) => a.maximum(b),
  minimum: (a, b) => sn.minimum(a, b),
  atan2: (a, b) => a.atan2(b),
  remainder: (a) => a.remainder(0.7),
  int_add_scalar: (a) => a.add(3),
  int_floor_divide: (a) => a.floorDivide(3),
  int_true_divide: (a) => a.div(4),
  float64_mul: (a, b) => a.mul(b),
  neg: (a) => a.neg(),
  abs: (a) => a.abs(),
  exp: (a) => a.exp(),
  log: (a) => a.log(),
  log1p: (a) => a.log1p(),
  sqrt: (a) => a.sqrt(),
  rsqrt: (a) => a.rsqrt(),
  sin: (a) => a.sin(),
  cos: (a) => a.cos(),
  tanh: (a) => a.tanh(),
  sigmoid: (a) => a.sigmoid(),
  relu: (a) => F.relu(a),
  gelu: (a) => F.gelu(a),
  gelu_tanh: (a) => F.gelu(a, 'tanh'),
  silu: (a) => F.silu(a),
  elu: (a) => F.elu(a, 0.7),
  leaky_relu: (a) => F.leakyRelu(a, 0.2),
  softplus: (a) => F.softplus(a, 2, 10),
  erf: (a) => a.erf(),
  square: (a) => a.square(),
  floor: (a) => a.floor(),
  sign: (a) => a.sign(),
  clamp: (a) => a.clamp(-0.5, 0.7),
  float64_tanh: (a) => a.tanh(),
  gt_scalar: (a) => a.gt(0.1),
  eq_tensor: (a, b) => a.eq(b),
  where: (a, b) => sn.scope(() => sn.where(a.gt(b), a, b.mul(2))),
  where_scalar: (a) => sn.scope(() => sn.where(a.gt(0), a, 0.0)),
  logical_and: (a, b) => a.logicalAnd(b),
  sum: (a) => a.sum(),
  sum_dim: (a) => a.sum(1),
  mean_dims_keepdim: (a) => a.mean([0, 2], true),
  prod_dim: (a) => a.prod(1),
  amax: (a) => a.amax(-1),
  max_dim: (a) => {
    const { values, indices } = a.max(1);
    return [values, indices];
  },
  min_all: (a) => a.min(),
  argmax: (a) => a.argmax(1),
  std: (a) => a.std(1),
  var_correction0: (a) => a.var(0, { correction: 0, keepdim: true }),
  norm: (a) => a.norm(2, 1),
  norm_l1_all: (a) => sn.linalg.vectorNorm(a, 1),
  logsumexp: (a) => a.logsumexp(1),
  cumsum: (a) => a.cumsum(1),
  sort: (a) => {
    const { values, indices } = a.sort(1, true);
    return [values, indices];
  },
  topk: (a) => {
    const { values, indices } = a.topk(3, 1);
    return [values, indices];
  },
  all_any: (a) => [a.all(1), a.any()],
  matmul: (a, b) => a.matmul(b),
  matmul_batched: (a, b) => sn.matmul(a, b),
  bmm: (a, b) => a.bmm(b),
  matmul_float64: (a, b) => a.matmul(b),
  dot: (a, b) => a.dot(b),
  t: (a) => a.t(),
  transpose: (a) => a.transpose(0, 2),
  permute: (a) => a.permute(1, 2, 0),
  reshape: (a) => a.reshape(4, -1),
  flatten: (a) => a.flatten(1),
  squeeze_unsqueeze: (a) => sn.scope(() => a.squeeze(1).unsqueeze(0)),
  expand: (a) => a.expand(3, 4),
  repeat: (a) => a.repeat(2, 2),
  cat: (a, b) => sn.cat([a, b], 0),
  stack: (a, b) => sn.stack([a, b], 1),
  split: (a) => a.split([2, 3], 0),
  chunk: (a) => a.chunk(3, 0),
  narrow: (a) => a.narrow(1, 2, 3),
  slice_step: (a) => a.index(':', '1:7:2'),
  index_mixed: (a) => a.index(1, ':', { start: 2, stop: 5 }),
  index_none_ellipsis: (a) => a.index(null, '...', 0),
  index_mask: (a) => sn.scope(() => a.index(a.gt(0))),
  index_tensor: (a, i) => a.index(i),
  gather: (a, i) => a.gather(1, i),
  index_select: (a, i) => a.indexSelect(1, i),
  masked_fill: (a) => sn.scope(() => a.maskedFill(a.lt(0), 0.5)),
  flip: (a) => a.flip([0, 1]),
  roll: (a) => a.roll(1, 1),
  tril_triu: (a) => [a.tril(), a.triu(1)],
  softmax: (a) => F.softmax(a, 1),
  log_softmax: (a) => F.logSoftmax(a, 1),
  conv2d: (x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1 }),
  conv2d_dilation_groups: (x, w) => F.conv2d(x, w, null, { padding: 2, dilation: 2, groups: 2 }),
  conv2d_same: (x, w) => F.conv2d(x, w, null, { padding: 'same' }),
  conv_transpose2d: (x, w) => F.convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }),
  max_pool2d: (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }),
  avg_pool2d: (x) => F.avgPool2d(x, 2),
  avg_pool2d_pad: (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }),
  adaptive_avg_pool2d: (x) => F.adaptiveAvgPool2d(x, 1),
  linear: (x, w, b) => F.linear(x, w, b),
  batch_norm_train: (x, w, b) =>
    sn.scope(() => F.batchNorm(x, sn.zeros([3]), sn.ones([3]), { weight: w, bias: b, training: true, momentum: 0.1, eps: 1e-5 })),
  layer_norm: (x, w, b) => F.layerNorm(x, [6], w, b),
  group_norm: (x) => F.groupNorm(x, 3),
  pad: (x) => F.pad(x, [1, 2, 0, 1], 'constant', 0.5),
  cross_entropy: (x, y) => F.crossEntropy(x, y, { labelSmoothing: 0.1 }),
  cross_entropy_sum: (x, y) => F.crossEntropy(x, y, { reduction: 'sum' }),
  nll_loss: (x, y) => sn.scope(() => F.nllLoss(F.logSoftmax(x, 1), y)),
  mse_loss: (a, b) => F.mseLoss(a, b),
  svdvals: (a) => sn.linalg.svdvals(a),
  svdvals_float64_batched: (a) => sn.linalg.svdvals(a),
  svd_reduced: (a) => {
    const { U, S, Vh } = sn.linalg.svd(a, false);
    return [U, S, Vh];
  },
  eigh: (a) => {
    const { eigenvalues, eigenvectors } = sn.linalg.eigh(a);
    return [eigenvalues, eigenvectors];
  },
  eigvalsh: (a) => sn.linalg.eigvalsh(a),
  qr: (a) => {
    const { Q, R } = sn.linalg.qr(a);
    return [Q, R];
  },
  inv: (a) => sn.linalg.inv(a),
  det: (a) => sn.linalg.det(a),
  solve: (a, b) => sn.linalg.solve(a, b),
  cholesky: (a) => sn.linalg.cholesky(a),
  matrix_norm_nuc: (a) => sn.linalg.matrixNorm(a, 'nuc'),
  fft: (a) => sn.fft.fft(a),
  rfft_abs: (a) => sn.scope(() => sn.fft.rfft(a).abs()),
  irfft: (a) => sn.scope(() => sn.fft.irfft(sn.fft.rfft(a), 10)),
  fft2: (a) => sn.fft.fft2(a),
  rfft2_ortho: (a) => sn.fft.rfft2(a, undefined, undefined, 'ortho'),
  ifft_complex: (a, b) => sn.scope(() => sn.fft.ifft(sn.complex(a, b))),
  to_float16: (a) => a.half(),
  to_bfloat16: (a) => a.bfloat16(),
  to_int64: (a) => sn.scope(() => a.mul(10).long()),
};

interface GoldenCase {
  inputs: GoldenTensor[];
  grad: number[];
  outputs: GoldenTensor[];
  cotangents?: GoldenTensor[];
  grads?: GoldenTensor[];
  /** Relative error of PyTorch's float32 results against float64 (null where not float32). */
  spread?: { outputs: (number | null)[]; grads?: (number | null)[] };
}

// The golden files were computed with 2 intra-op threads (scripts/golden/*.py); the same count
// gives the same reduction order. (With 1 thread, deep ResNets' float32 gradients drift ~4e-4, and
// gradients that are mathematically zero, like a bias right before batch norm, are pure rounding.)
sn.setMainThreadNumThreads(2);

const golden = readGolden<{ torch: string; cases: Record<string, GoldenCase> }>('core.json');
const TOLERANCE = 1e-6;

function expectMatches(actual: sn.Tensor, expected: GoldenTensor, what: string, spread?: number | null): void {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  expect(actual.dtype, `${what}: dtype`).toBe(expected.dtype);
  const values = actual.dataSync();
  const want = goldenValues(expected);
  if (want instanceof BigInt64Array || want instanceof Uint8Array || want instanceof Int32Array) {
    expect(Array.from(values as ArrayLike<number | bigint>), `${what}: values`).toEqual(Array.from(want as ArrayLike<number | bigint>));
    return;
  }
  const error = relativeError(values as Float32Array, want);
  expect(error, `${what}: relative error ${error}`).toBeLessThanOrEqual(withRounding(TOLERANCE, spread));
}

describe(`golden parity with PyTorch ${golden.torch}`, () => {
  it('covers the same cases on both sides', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(golden.cases).sort());
  });

  for (const [name, spec] of Object.entries(golden.cases)) {
    it(name, () => {
      const impl = CASES[name];
      expect(impl, `no skipnorm implementation for case ${name}`).toBeDefined();
      sn.scope(() => {
        const inputs = spec.inputs.map(fromGolden);
        for (const i of spec.grad) inputs[i].requiresGrad_(true);
        const result = impl(...inputs);
        const outputs = Array.isArray(result) ? result : [result];
        expect(outputs.length).toBe(spec.outputs.length);
        outputs.forEach((o, k) => expectMatches(o, spec.outputs[k], `${name} output ${k}`, spec.spread?.outputs[k]));
        if (spec.grad.length > 0) {
          const cotangents = spec.cotangents!.map(fromGolden);
          const terms = outputs
            .map((o, k) => [o, cotangents[k]] as const)
            .filter(([o]) => o.dtype === 'float32' || o.dtype === 'float64')
            .map(([o, c]) => o.mul(c).sum());
          const total = terms.slice(1).reduce((acc, t) => acc.add(t), terms[0]);
          total.backward();
          spec.grad.forEach((inputIndex, k) => {
            const g = inputs[inputIndex].grad;
            expect(g, `${name}: no gradient for input ${inputIndex}`).not.toBeNull();
            expectMatches(g!, spec.grads![k], `${name} gradient of input ${inputIndex}`, spec.spread?.grads?.[k]);
          });
        }
      });
      expect(sn.memory().tensors).toBe(0);
    });
  }
});
