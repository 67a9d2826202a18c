"""Golden files for the tensor core: inputs, outputs and gradients computed by PyTorch.

Writes test/golden/core.json. Each case names a computation that test/03-ops-golden.test.ts
implements with skipnorm's API under the same name; the test fails if either side lacks a case.
Gradients are of sum(output * cotangent) over all outputs, with respect to every input marked
`grad`. Tensors are stored as base64 of their little-endian bytes (complex as (re, im) pairs).

Each float32 (and complex64) output and gradient also records `spread`: its relative error
against the same case computed in float64 from the same inputs, i.e. how far PyTorch's own float32
rounding took it. Another processor rounds differently by about as much, so the test allows a
multiple of it (test/helpers.ts, roundingAllowance) besides its fixed tolerance.

Run through `npm run golden` (scripts/golden/run.js), which finds or makes a Python with torch.
"""

import base64
import json
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
OUT = os.path.join(os.environ.get('SKIPNORM_GOLDEN_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden'), 'core.json')
WIDER = {torch.float32: torch.float64, torch.complex64: torch.complex128}


def widened(t):
    """A float64 (complex128) copy of a float32 (complex64) tensor; other tensors as they are."""
    return t.detach().to(WIDER[t.dtype]) if t.dtype in WIDER else t.detach()


def spread(narrow, wide):
    """Relative error of a float32 result against its float64 shadow; None for other dtypes."""
    if narrow.dtype not in WIDER or narrow.shape != wide.shape:
        return None
    d = (narrow.detach().to(wide.dtype) - wide.detach()).abs().norm().item()
    n = wide.detach().abs().norm().item()
    return d / n if n > 0 else d

DTYPES = {
    torch.float32: 'float32', torch.float64: 'float64', torch.int64: 'int64', torch.int32: 'int32',
    torch.bool: 'bool', torch.uint8: 'uint8', torch.complex64: 'complex64', torch.complex128: 'complex128',
    torch.float16: 'float16', torch.bfloat16: 'bfloat16',
}


def encode(t):
    t = t.detach().cpu().contiguous()
    dtype = DTYPES[t.dtype]
    shape = list(t.shape)
    if t.is_complex():
        t = torch.view_as_real(t.resolve_conj()).contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return {'dtype': dtype, 'shape': shape, 'data': base64.b64encode(t.numpy().tobytes()).decode('ascii')}


def make_input(rng, spec):
    """spec: (shape, kind, dtype?) -> tensor. kind: normal | positive | unit | int:lo:hi | bool | spd"""
    shape, kind = spec[0], spec[1]
    dtype = spec[2] if len(spec) > 2 else torch.float32
    if kind == 'normal':
        return torch.tensor(rng.standard_normal(shape), dtype=dtype)
    if kind == 'positive':
        return torch.tensor(rng.uniform(0.5, 2.0, shape), dtype=dtype)
    if kind == 'unit':
        return torch.tensor(rng.uniform(-0.9, 0.9, shape), dtype=dtype)
    if kind.startswith('int:'):
        _, lo, hi = kind.split(':')
        return torch.tensor(rng.integers(int(lo), int(hi), shape), dtype=torch.int64)
    if kind == 'bool':
        return torch.tensor(rng.uniform(size=shape) > 0.5)
    if kind == 'spd':
        n = shape[-1]
        a = rng.standard_normal(shape)
        return torch.tensor(a @ np.swapaxes(a, -1, -2) + n * np.eye(n), dtype=dtype)
    raise ValueError(kind)


N = 'normal'
P = 'positive'
f64 = torch.float64

# name: (input specs, indices of inputs that get gradients, function of the inputs -> tensor or tuple)
CASES = {
    # element-wise, broadcasting and scalars
    'add_broadcast': ([([3, 4], N), ([4], N)], [0, 1], lambda a, b: a + b),
    'sub': ([([3, 4], N), ([3, 4], N)], [0, 1], lambda a, b: a - b),
    'mul_broadcast': ([([2, 3, 4], N), ([3, 1], N)], [0, 1], lambda a, b: a * b),
    'div': ([([3, 4], N), ([3, 4], P)], [0, 1], lambda a, b: a / b),
    'add_scalar': ([([5], N)], [0], lambda a: a + 2.5),
    'rsub_scalar': ([([5], N)], [0], lambda a: 2 - a),
    'rdiv_scalar': ([([5], P)], [0], lambda a: 3 / a),
    'pow': ([([6], P), ([6], N)], [0, 1], lambda a, b: a ** b),
    'pow_scalar': ([([6], P)], [0], lambda a: a ** 1.7),
    'maximum': ([([4, 3], N), ([4, 3], N)], [0, 1], lambda a, b: torch.maximum(a, b)),
    'minimum': ([([4, 3], N), ([3], N)], [0, 1], lambda a, b: torch.minimum(a, b)),
    'atan2': ([([7], N), ([7], N)], [0, 1], lambda a, b: torch.atan2(a, b)),
    'remainder': ([([7], N)], [], lambda a: torch.remainder(a, 0.7)),
    'int_add_scalar': ([([5], 'int:-10:10')], [], lambda a: a + 3),
    'int_floor_divide': ([([6], 'int:-20:20')], [], lambda a: torch.div(a, 3, rounding_mode='floor')),
    'int_true_divide': ([([6], 'int:-20:20')], [], lambda a: a / 4),
    'float64_mul': ([([3, 3], N, f64), ([3, 3], N, f64)], [0, 1], lambda a, b: a * b),
    'neg': ([([4, 5], N)], [0], lambda a: -a),
    'abs': ([([4, 5], N)], [0], torch.abs),
    'exp': ([([4, 5], N)], [0], torch.exp),
    'log': ([([4, 5], P)], [0], torch.log),
    'log1p': ([([4, 5], P)], [0], torch.log1p),
    'sqrt': ([([4, 5], P)], [0], torch.sqrt),
    'rsqrt': ([([4, 5], P)], [0], torch.rsqrt),
    'sin': ([([4, 5], N)], [0], torch.sin),
    'cos': ([([4, 5], N)], [0], torch.cos),
    'tanh': ([([4, 5], N)], [0], torch.tanh),
    'sigmoid': ([([4, 5], N)], [0], torch.sigmoid),
    'relu': ([([4, 5], N)], [0], torch.relu),
    'gelu': ([([4, 5], N)], [0], F.gelu),
    'gelu_tanh': ([([4, 5], N)], [0], lambda a: F.gelu(a, approximate='tanh')),
    'silu': ([([4, 5], N)], [0], F.silu),
    'elu': ([([4, 5], N)], [0], lambda a: F.elu(a, 0.7)),
    'leaky_relu': ([([4, 5], N)], [0], lambda a: F.leaky_relu(a, 0.2)),
    'softplus': ([([4, 5], N)], [0], lambda a: F.softplus(a, 2.0, 10.0)),
    'erf': ([([4, 5], N)], [0], torch.erf),
    'square': ([([4, 5], N)], [0], torch.square),
    'floor': ([([4, 5], N)], [], torch.floor),
    'sign': ([([4, 5], N)], [], torch.sign),
    'clamp': ([([4, 5], N)], [0], lambda a: torch.clamp(a, -0.5, 0.7)),
    'float64_tanh': ([([6], N, f64)], [0], torch.tanh),
    # comparisons and selection
    'gt_scalar': ([([4, 5], N)], [], lambda a: a > 0.1),
    'eq_tensor': ([([6], 'int:0:3'), ([6], 'int:0:3')], [], lambda a, b: a == b),
    'where': ([([4, 5], N), ([4, 5], N)], [0, 1], lambda a, b: torch.where(a > b, a, b * 2)),
    'where_scalar': ([([4, 5], N)], [0], lambda a: torch.where(a > 0, a, 0.0)),
    'logical_and': ([([6], 'bool'), ([6], 'bool')], [], lambda a, b: a & b),
    # reductions
    'sum': ([([3, 4, 5], N)], [0], lambda a: a.sum()),
    'sum_dim': ([([3, 4, 5], N)], [0], lambda a: a.sum(1)),
    'mean_dims_keepdim': ([([3, 4, 5], N)], [0], lambda a: a.mean((0, 2), keepdim=True)),
    'prod_dim': ([([3, 4], P)], [0], lambda a: a.prod(1)),
    'amax': ([([3, 4, 5], N)], [0], lambda a: a.amax(-1)),
    'max_dim': ([([4, 6], N)], [0], lambda a: tuple(a.max(1))),
    'min_all': ([([4, 6], N)], [0], lambda a: a.min()),
    'argmax': ([([4, 6], N)], [], lambda a: a.argmax(1)),
    'std': ([([4, 6], N)], [0], lambda a: a.std(1)),
    'var_correction0': ([([4, 6], N)], [0], lambda a: a.var(0, correction=0, keepdim=True)),
    'norm': ([([4, 6], N)], [0], lambda a: torch.linalg.vector_norm(a, 2, 1)),
    'norm_l1_all': ([([4, 6], N)], [0], lambda a: torch.linalg.vector_norm(a, 1)),
    'logsumexp': ([([4, 6], N)], [0], lambda a: a.logsumexp(1)),
    'cumsum': ([([4, 6], N)], [0], lambda a: a.cumsum(1)),
    'sort': ([([4, 6], N)], [0], lambda a: tuple(a.sort(1, descending=True))),
    'topk': ([([4, 6], N)], [0], lambda a: tuple(a.topk(3, 1))),
    'all_any': ([([4, 6], 'bool')], [], lambda a: (a.all(1), a.any())),
    # matrices
    'matmul': ([([3, 4], N), ([4, 5], N)], [0, 1], lambda a, b: a @ b),
    'matmul_batched': ([([2, 3, 4], N), ([4, 5], N)], [0, 1], lambda a, b: a @ b),
    'bmm': ([([2, 3, 4], N), ([2, 4, 2], N)], [0, 1], torch.bmm),
    'matmul_float64': ([([5, 5], N, f64), ([5, 3], N, f64)], [0, 1], lambda a, b: a @ b),
    'dot': ([([7], N), ([7], N)], [0, 1], torch.dot),
    # shape
    't': ([([3, 4], N)], [0], lambda a: a.t()),
    'transpose': ([([2, 3, 4], N)], [0], lambda a: a.transpose(0, 2)),
    'permute': ([([2, 3, 4], N)], [0], lambda a: a.permute(1, 2, 0)),
    'reshape': ([([2, 3, 4], N)], [0], lambda a: a.reshape(4, -1)),
    'flatten': ([([2, 3, 4], N)], [0], lambda a: a.flatten(1)),
    'squeeze_unsqueeze': ([([2, 1, 4], N)], [0], lambda a: a.squeeze(1).unsqueeze(0)),
    'expand': ([([3, 1], N)], [0], lambda a: a.expand(3, 4)),
    'repeat': ([([2, 3], N)], [0], lambda a: a.repeat(2, 2)),
    'cat': ([([2, 3], N), ([4, 3], N)], [0, 1], lambda a, b: torch.cat([a, b], 0)),
    'stack': ([([2, 3], N), ([2, 3], N)], [0, 1], lambda a, b: torch.stack([a, b], 1)),
    'split': ([([5, 3], N)], [0], lambda a: tuple(a.split([2, 3], 0))),
    'chunk': ([([6, 3], N)], [0], lambda a: tuple(a.chunk(3, 0))),
    'narrow': ([([5, 6], N)], [0], lambda a: a.narrow(1, 2, 3)),
    'slice_step': ([([5, 8], N)], [0], lambda a: a[:, 1:7:2]),
    'index_mixed': ([([4, 5, 6], N)], [0], lambda a: a[1, :, 2:5]),
    'index_none_ellipsis': ([([4, 5, 6], N)], [0], lambda a: a[None, ..., 0]),
    'index_mask': ([([4, 5], N)], [0], lambda a: a[a > 0]),
    'index_tensor': ([([6, 3], N), ([4], 'int:0:6')], [0], lambda a, i: a[i]),
    'gather': ([([4, 5], N), ([4, 2], 'int:0:5')], [0], lambda a, i: a.gather(1, i)),
    'index_select': ([([4, 5], N), ([3], 'int:0:5')], [0], lambda a, i: a.index_select(1, i)),
    'masked_fill': ([([4, 5], N)], [0], lambda a: a.masked_fill(a < 0, 0.5)),
    'flip': ([([3, 4], N)], [0], lambda a: a.flip(0, 1)),
    'roll': ([([3, 4], N)], [0], lambda a: a.roll(1, 1)),
    'tril_triu': ([([4, 4], N)], [0], lambda a: (a.tril(), a.triu(1))),
    # neural-network functions
    'softmax': ([([3, 5], N)], [0], lambda a: torch.softmax(a, 1)),
    'log_softmax': ([([3, 5], N)], [0], lambda a: torch.log_softmax(a, 1)),
    'conv2d': ([([2, 3, 9, 9], N), ([4, 3, 3, 3], N), ([4], N)], [0, 1, 2],
               lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1)),
    'conv2d_dilation_groups': ([([2, 4, 10, 10], N), ([6, 2, 3, 3], N)], [0, 1],
                               lambda x, w: F.conv2d(x, w, None, stride=1, padding=2, dilation=2, groups=2)),
    'conv2d_same': ([([1, 2, 7, 7], N), ([3, 2, 5, 5], N)], [0, 1], lambda x, w: F.conv2d(x, w, padding='same')),
    'conv_transpose2d': ([([2, 3, 5, 5], N), ([3, 4, 3, 3], N)], [0, 1],
                         lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)),
    'max_pool2d': ([([2, 3, 8, 8], N)], [0], lambda x: F.max_pool2d(x, 3, 2, 1)),
    'avg_pool2d': ([([2, 3, 8, 8], N)], [0], lambda x: F.avg_pool2d(x, 2)),
    'avg_pool2d_pad': ([([2, 3, 7, 7], N)], [0], lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
    'adaptive_avg_pool2d': ([([2, 3, 7, 7], N)], [0], lambda x: F.adaptive_avg_pool2d(x, 1)),
    'linear': ([([4, 6], N), ([3, 6], N), ([3], N)], [0, 1, 2], F.linear),
    'batch_norm_train': ([([4, 3, 5, 5], N), ([3], P), ([3], N)], [0, 1, 2],
                         lambda x, w, b: F.batch_norm(x, torch.zeros(3), torch.ones(3), w, b, True, 0.1, 1e-5)),
    'layer_norm': ([([4, 6], N), ([6], P), ([6], N)], [0, 1, 2], lambda x, w, b: F.layer_norm(x, [6], w, b)),
    'group_norm': ([([2, 6, 3, 3], N)], [0], lambda x: F.group_norm(x, 3)),
    'pad': ([([1, 2, 3, 3], N)], [0], lambda x: F.pad(x, [1, 2, 0, 1], value=0.5)),
    'cross_entropy': ([([5, 4], N), ([5], 'int:0:4')], [0], lambda x, y: F.cross_entropy(x, y, label_smoothing=0.1)),
    'cross_entropy_sum': ([([5, 4], N), ([5], 'int:0:4')], [0], lambda x, y: F.cross_entropy(x, y, reduction='sum')),
    'nll_loss': ([([5, 4], N), ([5], 'int:0:4')], [0], lambda x, y: F.nll_loss(torch.log_softmax(x, 1), y)),
    'mse_loss': ([([5, 4], N), ([5, 4], N)], [0, 1], F.mse_loss),
    # linear algebra
    'svdvals': ([([6, 4], N)], [0], torch.linalg.svdvals),
    'svdvals_float64_batched': ([([3, 5, 7], N, f64)], [0], torch.linalg.svdvals),
    'svd_reduced': ([([6, 4], N, f64)], [], lambda a: tuple(torch.linalg.svd(a, full_matrices=False))),
    'eigh': ([([5, 5], 'spd', f64)], [], lambda a: tuple(torch.linalg.eigh(a))),
    'eigvalsh': ([([5, 5], 'spd')], [0], torch.linalg.eigvalsh),
    'qr': ([([6, 4], N, f64)], [], lambda a: tuple(torch.linalg.qr(a))),
    'inv': ([([4, 4], 'spd')], [0], torch.linalg.inv),
    'det': ([([4, 4], 'spd', f64)], [0], torch.linalg.det),
    'solve': ([([4, 4], 'spd'), ([4, 2], N)], [0, 1], torch.linalg.solve),
    'cholesky': ([([4, 4], 'spd', f64)], [0], torch.linalg.cholesky),
    'matrix_norm_nuc': ([([4, 5], N, f64)], [0], lambda a: torch.linalg.matrix_norm(a, 'nuc')),
    # FFT
    'fft': ([([8], N)], [], lambda a: torch.fft.fft(a)),
    'rfft_abs': ([([3, 16], N)], [0], lambda a: torch.fft.rfft(a).abs()),
    'irfft': ([([10], N)], [], lambda a: torch.fft.irfft(torch.fft.rfft(a), n=10)),
    'fft2': ([([2, 4, 6], N, f64)], [], lambda a: torch.fft.fft2(a)),
    'rfft2_ortho': ([([4, 6], N)], [], lambda a: torch.fft.rfft2(a, norm='ortho')),
    'ifft_complex': ([([8], N), ([8], N)], [], lambda a, b: torch.fft.ifft(torch.complex(a, b))),
    # dtype conversions
    'to_float16': ([([6], N)], [], lambda a: a.half()),
    'to_bfloat16': ([([6], N)], [], lambda a: a.bfloat16()),
    'to_int64': ([([6], N)], [], lambda a: (a * 10).long()),
}


def seed_of(name):
    return zlib.crc32(name.encode())


def run(fn, inputs, grad_indices, cotangents=None, rng=None):
    """Outputs and gradients of a case; cotangents are drawn from rng when not given."""
    for i in grad_indices:
        inputs[i].requires_grad_(True)
    result = fn(*inputs)
    outputs = list(result) if isinstance(result, tuple) else [result]
    grads = None
    if grad_indices:
        if cotangents is None:
            cotangents = [torch.tensor(rng.standard_normal(list(o.shape)), dtype=o.dtype) for o in outputs]
        total = sum((o * c.to(o.dtype)).sum() for o, c in zip(outputs, cotangents) if o.is_floating_point())
        total.backward()
        grads = [inputs[i].grad for i in grad_indices]
    return outputs, cotangents, grads


def main():
    out = {'torch': torch.__version__, 'cases': {}}
    for name, (specs, grad_indices, fn) in CASES.items():
        rng = np.random.default_rng(seed_of(name))
        inputs = [make_input(rng, s) for s in specs]
        shadow_inputs = [widened(t) for t in inputs]
        outputs, cotangents, grads = run(fn, inputs, grad_indices, rng=rng)
        case = {
            'inputs': [encode(t) for t in inputs],
            'grad': grad_indices,
            'outputs': [encode(t) for t in outputs],
        }
        if grad_indices:
            case['cotangents'] = [encode(c) for c in cotangents]
            case['grads'] = [encode(g) for g in grads]
        # The same case in float64, for the rounding spread of the float32 results.
        if any(t.dtype in WIDER for t in inputs):
            torch.set_default_dtype(torch.float64)  # constants made inside a case too
            try:
                wide_outputs, _, wide_grads = run(fn, shadow_inputs, grad_indices, cotangents=cotangents)
            finally:
                torch.set_default_dtype(torch.float32)
            case['spread'] = {'outputs': [spread(a, b) for a, b in zip(outputs, wide_outputs)]}
            if grad_indices:
                case['spread']['grads'] = [spread(a, b) for a, b in zip(grads, wide_grads)]
        out['cases'][name] = case
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
    print(f'wrote {len(CASES)} cases to {os.path.relpath(OUT)}', file=sys.stderr)


if __name__ == '__main__':
    main()
