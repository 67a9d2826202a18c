'use strict';
// The vocabulary of the op table (tensor-ops.js): what each kind of op is natively (the C++
// function type of its table and the parameters its `aten` expression sees) and in TypeScript
// (the Tensor dispatch helper its methods call, their default parameters and return type), and
// the dtype rules an op may state.

const KINDS = {
  unary: {
    table: 'kUnary',
    type: 'Unary',
    signature: 'at::Tensor (*)(const at::Tensor& x)',
    lambda: (expr) => `[](const at::Tensor& x) -> at::Tensor { return ${expr}; }`,
    helper: 'unary',
    args: [],
    operands: 0,
    returns: 'Tensor',
  },
  binary: {
    table: 'kBinary',
    type: 'Binary',
    signature: 'at::Tensor (*)(const at::Tensor& a, const at::Tensor& b)',
    lambda: (expr) => `[](const at::Tensor& a, const at::Tensor& b) -> at::Tensor { return ${expr}; }`,
    helper: 'binary',
    args: ['other: Operand'],
    operands: 1,
    returns: 'Tensor',
  },
  inplace: {
    table: 'kInplace',
    type: 'Inplace',
    signature: 'void (*)(at::Tensor& a, const at::Tensor& b)',
    lambda: (expr) => `[](at::Tensor& a, const at::Tensor& b) { ${expr}; }`,
    helper: 'inplace',
    args: ['other: Operand'],
    operands: 1,
    returns: 'this',
  },
  reduce: {
    table: 'kReduce',
    type: 'Reduce',
    signature: 'at::Tensor (*)(const at::Tensor& x, at::OptionalIntArrayRef dims, bool keepdim)',
    lambda: (expr) => `[](const at::Tensor& x, at::OptionalIntArrayRef dims, bool keepdim) -> at::Tensor { return ${expr}; }`,
    helper: 'reduce',
    args: ['dim?: number | number[]', 'keepdim = false'],
    operands: 2,
    returns: 'Tensor',
  },
};

// Each rule's sentence in the doc comment. The test checks each natively on small int64 and
// float32 tensors.
const DTYPE_RULES = {
  float: 'Integer inputs give float32.',
  floating: 'Integer tensors raise a TorchError.',
  bool: 'Gives a bool tensor.',
  integer: 'Integer and bool tensors only: floating-point ones raise a TorchError.',
  complex: 'Complex tensors only: real ones raise a TorchError.',
  int64: 'Gives an int64 tensor.',
};

module.exports = { KINDS, DTYPE_RULES };
