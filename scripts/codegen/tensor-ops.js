'use strict';
// The tensor ops that share one native entry point per signature, dispatched by an op code.
// `npm run generate:ops` (generate-ops.js) writes from this list: the Tensor methods (the
// generated region of src/tensor/tensor.ts), the native tables (native/tensor/op_table.h) and
// the op codes (src/tensor/op-table.ts). An op's code is its position in its kind's list.
//
// Each op:
//   name    the native table's key and, unless told otherwise, the Tensor method's name
//   aten    the C++ expression, over the kind's parameters (op-kinds.js): x; a, b; a, b in
//           place; x, dims, keepdim
//   doc     the doc comment of its method
//   dtype   a rule for dtypes (op-kinds.js, DTYPE_RULES), stated in the doc and checked by
//           test/21-generated-ops.test.ts
//   args    the method's parameters, when not the kind's default
//   operands  what the method passes to the dispatch, when not its parameters
//   getter  the method is a property getter
//   method  false: no method of its own (a hand-written method or function reaches it by name)
//   also    further methods over the same op: { name, doc, args, operands, swap }; swap computes
//           op(other, this)

const SAME_DIMS = 'over the given dimensions (all when omitted)';

const unary = [
  { name: 'neg', aten: 'x.neg()', doc: 'Negation, -x.' },
  { name: 'abs', aten: 'x.abs()', doc: 'Absolute value (the modulus, a real tensor, for complex tensors).' },
  { name: 'exp', aten: 'x.exp()', dtype: 'float', doc: 'e raised to each element.' },
  { name: 'exp2', aten: 'x.exp2()', dtype: 'float', doc: '2 raised to each element.' },
  { name: 'log', aten: 'x.log()', dtype: 'float', doc: 'Natural logarithm (NaN below 0, -Infinity at 0).' },
  { name: 'log2', aten: 'x.log2()', dtype: 'float', doc: 'Base-2 logarithm.' },
  { name: 'log10', aten: 'x.log10()', dtype: 'float', doc: 'Base-10 logarithm.' },
  { name: 'log1p', aten: 'x.log1p()', dtype: 'float', doc: 'log(1 + x), accurate for small x.' },
  { name: 'expm1', aten: 'x.expm1()', dtype: 'float', doc: 'exp(x) - 1, accurate for small x.' },
  { name: 'sqrt', aten: 'x.sqrt()', dtype: 'float', doc: 'Square root (NaN below 0).' },
  { name: 'rsqrt', aten: 'x.rsqrt()', dtype: 'float', doc: 'Reciprocal square root, 1 / sqrt(x).' },
  { name: 'square', aten: 'x.square()', doc: 'x * x.' },
  { name: 'reciprocal', aten: 'x.reciprocal()', dtype: 'float', doc: '1 / x.' },
  { name: 'sin', aten: 'x.sin()', dtype: 'float', doc: 'Sine (radians).' },
  { name: 'cos', aten: 'x.cos()', dtype: 'float', doc: 'Cosine (radians).' },
  { name: 'tan', aten: 'x.tan()', dtype: 'float', doc: 'Tangent (radians).' },
  { name: 'asin', aten: 'x.asin()', dtype: 'float', doc: 'Inverse sine, in radians (NaN outside [-1, 1]).' },
  { name: 'acos', aten: 'x.acos()', dtype: 'float', doc: 'Inverse cosine, in radians (NaN outside [-1, 1]).' },
  { name: 'atan', aten: 'x.atan()', dtype: 'float', doc: 'Inverse tangent, in radians.' },
  { name: 'sinh', aten: 'x.sinh()', dtype: 'float', doc: 'Hyperbolic sine.' },
  { name: 'cosh', aten: 'x.cosh()', dtype: 'float', doc: 'Hyperbolic cosine.' },
  { name: 'tanh', aten: 'x.tanh()', dtype: 'float', doc: 'Hyperbolic tangent.' },
  { name: 'sigmoid', aten: 'x.sigmoid()', dtype: 'float', doc: 'Logistic sigmoid, 1 / (1 + exp(-x)).' },
  // The activations below without a method are F.<name> (src/nn/functional.ts).
  { name: 'logSigmoid', aten: 'at::log_sigmoid(x)', dtype: 'floating', method: false, doc: 'log(sigmoid(x)), computed stably.' },
  { name: 'relu', aten: 'x.relu()', doc: 'max(x, 0).' },
  { name: 'relu6', aten: 'at::hardtanh(x, 0, 6)', method: false, doc: 'min(max(x, 0), 6).' },
  { name: 'silu', aten: 'at::silu(x)', dtype: 'floating', method: false, doc: 'x * sigmoid(x).' },
  { name: 'mish', aten: 'at::mish(x)', dtype: 'floating', method: false, doc: 'x * tanh(softplus(x)).' },
  { name: 'selu', aten: 'at::selu(x)', dtype: 'floating', method: false, doc: 'Scaled exponential linear unit.' },
  { name: 'hardswish', aten: 'at::hardswish(x)', dtype: 'floating', method: false, doc: 'x * relu6(x + 3) / 6.' },
  { name: 'hardsigmoid', aten: 'at::hardsigmoid(x)', dtype: 'floating', method: false, doc: 'relu6(x + 3) / 6.' },
  { name: 'softsign', aten: 'x / (x.abs() + 1)', method: false, doc: 'x / (1 + |x|).' },
  { name: 'erf', aten: 'x.erf()', dtype: 'float', doc: 'Gauss error function.' },
  { name: 'erfinv', aten: 'x.erfinv()', dtype: 'float', doc: 'Inverse of the error function (NaN outside [-1, 1]).' },
  { name: 'lgamma', aten: 'x.lgamma()', dtype: 'float', doc: 'Natural logarithm of the absolute value of the gamma function.' },
  { name: 'floor', aten: 'x.floor()', doc: 'Rounds down to an integer value (integer tensors come back unchanged).' },
  { name: 'ceil', aten: 'x.ceil()', doc: 'Rounds up to an integer value (integer tensors come back unchanged).' },
  { name: 'round', aten: 'x.round()', doc: 'Rounds to the nearest integer value, halves to even.' },
  { name: 'trunc', aten: 'x.trunc()', doc: 'Rounds toward zero to an integer value.' },
  { name: 'frac', aten: 'x.frac()', dtype: 'floating', doc: 'Fractional part, x - trunc(x).' },
  { name: 'sign', aten: 'x.sign()', doc: '-1, 0 or 1 by the sign of each element.' },
  { name: 'logicalNot', aten: 'x.logical_not()', dtype: 'bool', doc: 'True where an element is zero.' },
  { name: 'bitwiseNot', aten: 'x.bitwise_not()', dtype: 'integer', doc: 'Bitwise NOT (logical NOT for bool tensors).' },
  { name: 'isnan', aten: 'x.isnan()', dtype: 'bool', doc: 'True where an element is NaN.' },
  { name: 'isinf', aten: 'x.isinf()', dtype: 'bool', doc: 'True where an element is Infinity or -Infinity.' },
  { name: 'isfinite', aten: 'x.isfinite()', dtype: 'bool', doc: 'True where an element is neither infinite nor NaN.' },
  { name: 'real', aten: 'at::real(x)', getter: true, doc: 'Real part of a complex tensor (a view).' },
  { name: 'imag', aten: 'at::imag(x)', getter: true, dtype: 'complex', doc: 'Imaginary part of a complex tensor (a view).' },
  { name: 'angle', aten: 'x.angle()', dtype: 'float', doc: 'Argument of each element in radians (0 or pi for real tensors).' },
  { name: 'conj', aten: 'x.conj().resolve_conj()', doc: 'Complex conjugate, materialised (real tensors come back unchanged).' },
  // sn.viewAsReal and sn.viewAsComplex (src/tensor/ops.ts).
  {
    name: 'viewAsReal', aten: 'at::view_as_real(x)', dtype: 'complex', method: false,
    doc: 'A complex tensor as a real one with a last dimension of 2 (real, imaginary), sharing memory.',
  },
  {
    name: 'viewAsComplex', aten: 'at::view_as_complex(x)', dtype: 'floating', method: false,
    doc: 'A real tensor with a last dimension of 2 as a complex one, sharing memory.',
  },
  { name: 't', aten: 'x.t()', doc: 'Transpose of a matrix (at most 2-d).' },
  { name: 'mT', aten: 'x.mT()', getter: true, doc: 'Transpose of the last two dimensions.' },
  { name: 'nonzero', aten: 'x.nonzero()', dtype: 'int64', doc: 'Indices of the non-zero elements: one row of ndim indices per element.' },
  // Reductions over every element; sum, mean, prod, max and min are reached by the hand-written
  // methods that also reduce along dimensions.
  { name: 'sum', aten: 'x.sum()', method: false, doc: 'Sum of all elements.' },
  { name: 'mean', aten: 'x.mean()', dtype: 'floating', method: false, doc: 'Mean of all elements.' },
  { name: 'prod', aten: 'x.prod()', method: false, doc: 'Product of all elements.' },
  { name: 'max', aten: 'x.max()', method: false, doc: 'Largest element.' },
  { name: 'min', aten: 'x.min()', method: false, doc: 'Smallest element.' },
  { name: 'median', aten: 'x.median()', doc: 'Median of all elements (the lower of the two middle values for an even count).' },
];

const binary = [
  // Tensor.add (it takes an alpha) and sn.add.
  { name: 'add', aten: 'at::add(a, b)', method: false, doc: 'this + other.' },
  {
    name: 'sub', aten: 'at::sub(a, b)', doc: 'this - other.',
    also: [{ name: 'rsub', swap: true, doc: 'other - this, for `2 - x`.' }],
  },
  { name: 'mul', aten: 'at::mul(a, b)', doc: 'this * other.' },
  {
    name: 'div', aten: 'at::div(a, b)', dtype: 'float', doc: 'True division, this / other.',
    also: [{ name: 'rdiv', swap: true, doc: 'other / this, for `3 / x`.' }],
  },
  { name: 'floorDivide', aten: 'at::div(a, b, "floor")', doc: 'this / other rounded down (Python\'s //).' },
  { name: 'remainder', aten: 'at::remainder(a, b)', doc: 'Remainder of this / other with the sign of other (Python\'s %).' },
  { name: 'fmod', aten: 'at::fmod(a, b)', doc: 'Remainder of this / other with the sign of this (C\'s fmod).' },
  { name: 'pow', aten: 'at::pow(a, b)', args: ['exponent: Operand'], doc: 'this raised to exponent.' },
  { name: 'maximum', aten: 'at::maximum(a, b)', doc: 'The larger of this and other (NaN if either is).' },
  { name: 'minimum', aten: 'at::minimum(a, b)', doc: 'The smaller of this and other (NaN if either is).' },
  { name: 'atan2', aten: 'at::atan2(a, b)', dtype: 'float', doc: 'Angle of the point (other, this) in radians, in the right quadrant.' },
  { name: 'hypot', aten: 'at::hypot(a, b)', dtype: 'floating', doc: 'sqrt(this^2 + other^2), without overflow.' },
  { name: 'xlogy', aten: 'at::xlogy(a, b)', dtype: 'float', doc: 'this * log(other), 0 where this is 0.' },
  { name: 'eq', aten: 'at::eq(a, b)', dtype: 'bool', doc: 'True where this equals other.' },
  { name: 'ne', aten: 'at::ne(a, b)', dtype: 'bool', doc: 'True where this differs from other.' },
  { name: 'lt', aten: 'at::lt(a, b)', dtype: 'bool', doc: 'True where this < other.' },
  { name: 'le', aten: 'at::le(a, b)', dtype: 'bool', doc: 'True where this <= other.' },
  { name: 'gt', aten: 'at::gt(a, b)', dtype: 'bool', doc: 'True where this > other.' },
  { name: 'ge', aten: 'at::ge(a, b)', dtype: 'bool', doc: 'True where this >= other.' },
  { name: 'logicalAnd', aten: 'at::logical_and(a, b)', dtype: 'bool', doc: 'True where both are non-zero.' },
  { name: 'logicalOr', aten: 'at::logical_or(a, b)', dtype: 'bool', doc: 'True where either is non-zero.' },
  { name: 'logicalXor', aten: 'at::logical_xor(a, b)', dtype: 'bool', doc: 'True where exactly one is non-zero.' },
  { name: 'bitwiseAnd', aten: 'at::bitwise_and(a, b)', dtype: 'integer', doc: 'Bitwise AND (logical AND for bool tensors).' },
  { name: 'bitwiseOr', aten: 'at::bitwise_or(a, b)', dtype: 'integer', doc: 'Bitwise OR (logical OR for bool tensors).' },
  { name: 'bitwiseXor', aten: 'at::bitwise_xor(a, b)', dtype: 'integer', doc: 'Bitwise XOR (logical XOR for bool tensors).' },
  {
    name: 'matmul', aten: 'at::matmul(a, b)', args: ['other: Tensor'],
    doc: 'Matrix product with NumPy\'s rules: vectors, matrices and broadcast batches of matrices.',
  },
  { name: 'mm', aten: 'at::mm(a, b)', args: ['other: Tensor'], doc: 'Product of two matrices (2-d, no broadcasting).' },
  { name: 'bmm', aten: 'at::bmm(a, b)', args: ['other: Tensor'], doc: 'Batched matrix product of 3-d tensors: [b, n, m] by [b, m, p].' },
  { name: 'dot', aten: 'at::dot(a, b)', args: ['other: Tensor'], doc: 'Dot product of two 1-d tensors.' },
  { name: 'outer', aten: 'at::outer(a, b)', args: ['other: Tensor'], doc: 'Outer product of two 1-d tensors.' },
  // sn.kron and sn.complex (src/tensor/ops.ts).
  { name: 'kron', aten: 'at::kron(a, b)', method: false, doc: 'Kronecker product.' },
  { name: 'complex', aten: 'at::complex(a, b)', dtype: 'floating', method: false, doc: 'A complex tensor from real and imaginary parts.' },
  {
    name: 'isclose', aten: 'at::isclose(a, b)', dtype: 'bool', args: ['other: Tensor'],
    doc: 'True where |this - other| <= 1e-8 + 1e-5 * |other| (PyTorch\'s default tolerances).',
  },
];

const inplace = [
  { name: 'add_', aten: 'a.add_(b)', doc: 'Adds other to this tensor in place; returns this.' },
  { name: 'sub_', aten: 'a.sub_(b)', doc: 'Subtracts other from this tensor in place; returns this.' },
  { name: 'mul_', aten: 'a.mul_(b)', doc: 'Multiplies this tensor by other in place; returns this.' },
  { name: 'div_', aten: 'a.div_(b)', dtype: 'floating', doc: 'Divides this tensor by other in place; returns this.' },
  { name: 'pow_', aten: 'a.pow_(b)', doc: 'Raises this tensor to the power other in place; returns this.' },
  {
    name: 'copy_', aten: 'a.copy_(b)', args: ['source: Tensor'],
    doc: 'Copies source into this tensor (broadcast, converted to its dtype and device); returns this.',
  },
  {
    name: 'fill_', aten: 'a.fill_(b)', args: ['value: Operand'],
    doc: 'Sets every element to value (a number or a 0-d tensor); returns this.',
    also: [{ name: 'zero_', args: [], operands: ['0'], doc: 'Sets every element to 0; returns this.' }],
  },
  { name: 'maximum_', aten: 'a.copy_(at::maximum(a, b))', method: false, doc: 'this = maximum(this, other).' },
  { name: 'minimum_', aten: 'a.copy_(at::minimum(a, b))', method: false, doc: 'this = minimum(this, other).' },
];

const reduce = [
  // Tensor.sum and Tensor.mean, which reduce over every element through the unary table.
  { name: 'sum', aten: 'at::sum(x, dims, keepdim)', method: false, doc: `Sum ${SAME_DIMS}.` },
  { name: 'mean', aten: 'at::mean(x, dims, keepdim)', dtype: 'floating', method: false, doc: `Mean ${SAME_DIMS}.` },
  { name: 'nansum', aten: 'at::nansum(x, dims, keepdim)', doc: `Sum ${SAME_DIMS}, NaN counted as 0.` },
  { name: 'nanmean', aten: 'at::nanmean(x, dims, keepdim)', dtype: 'floating', doc: `Mean ${SAME_DIMS}, NaN left out.` },
  { name: 'amax', aten: 'at::amax(x, dims.value_or(at::IntArrayRef{}), keepdim)', doc: `Largest value ${SAME_DIMS}.` },
  { name: 'amin', aten: 'at::amin(x, dims.value_or(at::IntArrayRef{}), keepdim)', doc: `Smallest value ${SAME_DIMS}.` },
  {
    name: 'logsumexp', aten: 'at::logsumexp(x, dims.value_or(at::IntArrayRef{}), keepdim)', dtype: 'float',
    args: ['dim: number | number[]', 'keepdim = false'], doc: 'log(sum(exp(x))) over the given dimensions, computed stably.',
  },
  {
    name: 'countNonzero', aten: 'at::count_nonzero(x, dims.value_or(at::IntArrayRef{}))', dtype: 'int64',
    args: ['dim?: number | number[]'], operands: ['dim', 'false'], doc: `Number of non-zero elements ${SAME_DIMS}.`,
  },
  {
    name: 'all', aten: 'dims && !dims->empty() ? at::all(x, *dims, keepdim) : at::all(x)', dtype: 'bool',
    doc: `True where every element ${SAME_DIMS} is non-zero.`,
  },
  {
    name: 'any', aten: 'dims && !dims->empty() ? at::any(x, *dims, keepdim) : at::any(x)', dtype: 'bool',
    doc: `True where any element ${SAME_DIMS} is non-zero.`,
  },
];

module.exports = { unary, binary, inplace, reduce };
