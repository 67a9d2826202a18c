// Element-wise math, comparisons and reductions. Ops of one signature share one native entry
// point that dispatches on an op code: the tables are generated (op_table.h, from
// scripts/codegen/tensor-ops.js) with the TypeScript methods and codes, and `opNames` lets
// TypeScript check at load that its codes index these tables.
#include <ATen/ATen.h>
#include <napi.h>

#include "core/args.h"
#include "core/errors.h"
#include "core/in_use.h"
#include "tensor/op_table.h"
#include "tensor/register.h"

namespace skipnorm {

namespace {

using op_table::kBinary;
using op_table::kInplace;
using op_table::kReduce;
using op_table::kUnary;
using op_table::Op;

template <typename Fn, size_t N>
const Op<Fn>& lookup(const Napi::CallbackInfo& info, const Op<Fn> (&table)[N]) {
  int64_t code = intArg(info, 0);
  if (code < 0 || code >= static_cast<int64_t>(N)) throwTypeError(info.Env(), "unknown op code");
  setOpName(table[code].name);
  return table[code];
}

template <typename Fn, size_t N>
Napi::Value names(Napi::Env env, const Op<Fn> (&table)[N]) {
  Napi::Array out = Napi::Array::New(env, N);
  for (size_t i = 0; i < N; ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, table[i].name));
  return out;
}

// The second operand: a tensor handle, or a scalar when `scalar` is true.
at::Tensor otherArg(const Napi::CallbackInfo& info, size_t index, const at::Tensor& like) {
  if (!isMissing(info, index + 1) && boolArg(info, index + 1)) return wrappedScalar(scalarArg(info, index), like.device());
  return tensorArg(info, index);
}

// unary(code, x)
Napi::Value UnaryOp(const Napi::CallbackInfo& info) {
  const auto& op = lookup(info, kUnary);
  return wrapTensor(info.Env(), op.fn(tensorArg(info, 1)));
}

// binary(code, a, b, bIsScalar, swap): swap computes op(b, a), for `2 - x`.
Napi::Value BinaryOp(const Napi::CallbackInfo& info) {
  const auto& op = lookup(info, kBinary);
  const at::Tensor& a = tensorArg(info, 1);
  at::Tensor b = otherArg(info, 2, a);
  bool swap = !isMissing(info, 4) && boolArg(info, 4);
  return wrapTensor(info.Env(), swap ? op.fn(b, a) : op.fn(a, b));
}

// inplace(code, a, b, bIsScalar): modifies a; returns nothing (the JavaScript tensor is `a`).
Napi::Value InplaceOp(const Napi::CallbackInfo& info) {
  const auto& op = lookup(info, kInplace);
  at::Tensor& a = tensorArg(info, 1);
  checkTensorNotInUse(info.Env(), a);
  at::Tensor b = otherArg(info, 2, a);
  op.fn(a, b);
  return info.Env().Undefined();
}

// reduce(code, x, dims|null, keepdim)
Napi::Value ReduceOp(const Napi::CallbackInfo& info) {
  const auto& op = lookup(info, kReduce);
  std::optional<std::vector<int64_t>> dims = optionalIntListArg(info, 2);
  bool keepdim = !isMissing(info, 3) && boolArg(info, 3);
  at::OptionalIntArrayRef ref = dims ? at::OptionalIntArrayRef(*dims) : std::nullopt;
  return wrapTensor(info.Env(), op.fn(tensorArg(info, 1), ref, keepdim));
}

// stdVar(isStd, x, dims|null, correction, keepdim)
Napi::Value StdVar(const Napi::CallbackInfo& info) {
  bool isStd = boolArg(info, 0);
  setOpName(isStd ? "std" : "var");
  std::optional<std::vector<int64_t>> dims = optionalIntListArg(info, 2);
  at::OptionalIntArrayRef ref = dims ? at::OptionalIntArrayRef(*dims) : std::nullopt;
  at::Scalar correction = scalarArg(info, 3);
  bool keepdim = boolArg(info, 4);
  const at::Tensor& x = tensorArg(info, 1);
  return wrapTensor(info.Env(), isStd ? at::std(x, ref, correction, keepdim) : at::var(x, ref, correction, keepdim));
}

// prod(x, dim, keepdim) along one dimension
Napi::Value ProdDim(const Napi::CallbackInfo& info) {
  setOpName("prod");
  return wrapTensor(info.Env(), at::prod(tensorArg(info, 0), intArg(info, 1), boolArg(info, 2)));
}

// maxMin(isMax, x, dim, keepdim) -> [values, indices]
Napi::Value MaxMinDim(const Napi::CallbackInfo& info) {
  bool isMax = boolArg(info, 0);
  setOpName(isMax ? "max" : "min");
  auto [values, indices] = isMax ? at::max(tensorArg(info, 1), intArg(info, 2), boolArg(info, 3))
                                 : at::min(tensorArg(info, 1), intArg(info, 2), boolArg(info, 3));
  return wrapTensors(info.Env(), {values, indices});
}

// argMaxMin(isMax, x, dim|null, keepdim)
Napi::Value ArgMaxMin(const Napi::CallbackInfo& info) {
  bool isMax = boolArg(info, 0);
  setOpName(isMax ? "argmax" : "argmin");
  std::optional<int64_t> dim = optionalIntArg(info, 2);
  bool keepdim = boolArg(info, 3);
  const at::Tensor& x = tensorArg(info, 1);
  return wrapTensor(info.Env(), isMax ? at::argmax(x, dim, keepdim) : at::argmin(x, dim, keepdim));
}

// vectorNorm(x, ord, dims|null, keepdim)
Napi::Value VectorNorm(const Napi::CallbackInfo& info) {
  std::optional<std::vector<int64_t>> dims = optionalIntListArg(info, 2);
  at::OptionalIntArrayRef ref = dims ? at::OptionalIntArrayRef(*dims) : std::nullopt;
  return wrapTensor(info.Env(), at::linalg_vector_norm(tensorArg(info, 0), scalarArg(info, 1), ref, boolArg(info, 3)));
}

// cumulative(isProd, x, dim)
Napi::Value Cumulative(const Napi::CallbackInfo& info) {
  bool isProd = boolArg(info, 0);
  setOpName(isProd ? "cumprod" : "cumsum");
  const at::Tensor& x = tensorArg(info, 1);
  int64_t dim = intArg(info, 2);
  return wrapTensor(info.Env(), isProd ? at::cumprod(x, dim) : at::cumsum(x, dim));
}

// sort(x, dim, descending, stable) -> [values, indices]
Napi::Value Sort(const Napi::CallbackInfo& info) {
  auto [values, indices] = at::sort(tensorArg(info, 0), boolArg(info, 3), intArg(info, 1), boolArg(info, 2));
  return wrapTensors(info.Env(), {values, indices});
}

// topk(x, k, dim, largest, sorted) -> [values, indices]
Napi::Value Topk(const Napi::CallbackInfo& info) {
  auto [values, indices] = at::topk(tensorArg(info, 0), intArg(info, 1), intArg(info, 2), boolArg(info, 3), boolArg(info, 4));
  return wrapTensors(info.Env(), {values, indices});
}

// clamp(x, min|null, max|null)
Napi::Value Clamp(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::clamp(tensorArg(info, 0), optionalScalarArg(info, 1), optionalScalarArg(info, 2)));
}

// where(cond, a, b)
Napi::Value Where(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::where(tensorArg(info, 0), tensorArg(info, 1), tensorArg(info, 2)));
}

// scalarTensor(value): a number as a 0-d tensor that promotes like a Python scalar.
Napi::Value ScalarTensor(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), wrappedScalar(scalarArg(info, 0), at::kCPU));
}

Napi::Value Equal(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::equal(tensorArg(info, 0), tensorArg(info, 1)));
}
Napi::Value Allclose(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::allclose(tensorArg(info, 0), tensorArg(info, 1), numberArg(info, 2), numberArg(info, 3)));
}

Napi::Value OpNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("unary", names(env, kUnary));
  out.Set("binary", names(env, kBinary));
  out.Set("inplace", names(env, kInplace));
  out.Set("reduce", names(env, kReduce));
  return out;
}

}  // namespace

void registerOps(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "unary", UnaryOp);
  exportFunction(env, exports, "binary", BinaryOp);
  exportFunction(env, exports, "inplace", InplaceOp);
  exportFunction(env, exports, "reduce", ReduceOp);
  exportFunction(env, exports, "stdVar", StdVar);
  exportFunction(env, exports, "prodDim", ProdDim);
  exportFunction(env, exports, "maxMinDim", MaxMinDim);
  exportFunction(env, exports, "argMaxMin", ArgMaxMin);
  exportFunction(env, exports, "vectorNorm", VectorNorm);
  exportFunction(env, exports, "cumulative", Cumulative);
  exportFunction(env, exports, "sort", Sort);
  exportFunction(env, exports, "topk", Topk);
  exportFunction(env, exports, "clamp", Clamp);
  exportFunction(env, exports, "where", Where);
  exportFunction(env, exports, "scalarTensor", ScalarTensor);
  exportFunction(env, exports, "equal", Equal);
  exportFunction(env, exports, "allclose", Allclose);
  exportFunction(env, exports, "opNames", OpNames);
}

}  // namespace skipnorm
