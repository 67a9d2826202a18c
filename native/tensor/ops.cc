// Element-wise math, comparisons and reductions. Ops of one signature share one native entry
// point that dispatches on an op code; the op names are exported in code order so TypeScript
// (src/tensor/opcodes.ts) can map names to codes without a second list to keep in sync.
#include <ATen/ATen.h>
#include <napi.h>

#include "core/args.h"
#include "core/errors.h"
#include "core/in_use.h"
#include "tensor/register.h"

namespace skipnorm {

namespace {

using Unary = at::Tensor (*)(const at::Tensor&);
using Binary = at::Tensor (*)(const at::Tensor&, const at::Tensor&);
using Inplace = void (*)(at::Tensor&, const at::Tensor&);
using Reduce = at::Tensor (*)(const at::Tensor&, at::OptionalIntArrayRef, bool);

template <typename Fn>
struct Op {
  const char* name;
  Fn fn;
};

#define SN_UNARY(name, expr) Op<Unary>{name, [](const at::Tensor& x) -> at::Tensor { return expr; }}
const Op<Unary> kUnary[] = {
    SN_UNARY("neg", x.neg()),
    SN_UNARY("abs", x.abs()),
    SN_UNARY("exp", x.exp()),
    SN_UNARY("exp2", x.exp2()),
    SN_UNARY("log", x.log()),
    SN_UNARY("log2", x.log2()),
    SN_UNARY("log10", x.log10()),
    SN_UNARY("log1p", x.log1p()),
    SN_UNARY("expm1", x.expm1()),
    SN_UNARY("sqrt", x.sqrt()),
    SN_UNARY("rsqrt", x.rsqrt()),
    SN_UNARY("square", x.square()),
    SN_UNARY("reciprocal", x.reciprocal()),
    SN_UNARY("sin", x.sin()),
    SN_UNARY("cos", x.cos()),
    SN_UNARY("tan", x.tan()),
    SN_UNARY("asin", x.asin()),
    SN_UNARY("acos", x.acos()),
    SN_UNARY("atan", x.atan()),
    SN_UNARY("sinh", x.sinh()),
    SN_UNARY("cosh", x.cosh()),
    SN_UNARY("tanh", x.tanh()),
    SN_UNARY("sigmoid", x.sigmoid()),
    SN_UNARY("logSigmoid", at::log_sigmoid(x)),
    SN_UNARY("relu", x.relu()),
    SN_UNARY("relu6", at::hardtanh(x, 0, 6)),
    SN_UNARY("silu", at::silu(x)),
    SN_UNARY("mish", at::mish(x)),
    SN_UNARY("selu", at::selu(x)),
    SN_UNARY("hardswish", at::hardswish(x)),
    SN_UNARY("hardsigmoid", at::hardsigmoid(x)),
    SN_UNARY("softsign", x / (x.abs() + 1)),
    SN_UNARY("erf", x.erf()),
    SN_UNARY("erfinv", x.erfinv()),
    SN_UNARY("lgamma", x.lgamma()),
    SN_UNARY("floor", x.floor()),
    SN_UNARY("ceil", x.ceil()),
    SN_UNARY("round", x.round()),
    SN_UNARY("trunc", x.trunc()),
    SN_UNARY("frac", x.frac()),
    SN_UNARY("sign", x.sign()),
    SN_UNARY("logicalNot", x.logical_not()),
    SN_UNARY("bitwiseNot", x.bitwise_not()),
    SN_UNARY("isnan", x.isnan()),
    SN_UNARY("isinf", x.isinf()),
    SN_UNARY("isfinite", x.isfinite()),
    SN_UNARY("real", at::real(x)),
    SN_UNARY("imag", at::imag(x)),
    SN_UNARY("angle", x.angle()),
    SN_UNARY("conj", x.conj().resolve_conj()),
    SN_UNARY("viewAsReal", at::view_as_real(x)),
    SN_UNARY("viewAsComplex", at::view_as_complex(x)),
    SN_UNARY("t", x.t()),
    SN_UNARY("mT", x.mT()),
    SN_UNARY("nonzero", x.nonzero()),
    SN_UNARY("sum", x.sum()),
    SN_UNARY("mean", x.mean()),
    SN_UNARY("prod", x.prod()),
    SN_UNARY("max", x.max()),
    SN_UNARY("min", x.min()),
    SN_UNARY("median", x.median()),
};
#undef SN_UNARY

#define SN_BINARY(name, expr) Op<Binary>{name, [](const at::Tensor& a, const at::Tensor& b) -> at::Tensor { return expr; }}
const Op<Binary> kBinary[] = {
    SN_BINARY("add", at::add(a, b)),
    SN_BINARY("sub", at::sub(a, b)),
    SN_BINARY("mul", at::mul(a, b)),
    SN_BINARY("div", at::div(a, b)),
    SN_BINARY("floorDivide", at::div(a, b, "floor")),
    SN_BINARY("remainder", at::remainder(a, b)),
    SN_BINARY("fmod", at::fmod(a, b)),
    SN_BINARY("pow", at::pow(a, b)),
    SN_BINARY("maximum", at::maximum(a, b)),
    SN_BINARY("minimum", at::minimum(a, b)),
    SN_BINARY("atan2", at::atan2(a, b)),
    SN_BINARY("hypot", at::hypot(a, b)),
    SN_BINARY("xlogy", at::xlogy(a, b)),
    SN_BINARY("eq", at::eq(a, b)),
    SN_BINARY("ne", at::ne(a, b)),
    SN_BINARY("lt", at::lt(a, b)),
    SN_BINARY("le", at::le(a, b)),
    SN_BINARY("gt", at::gt(a, b)),
    SN_BINARY("ge", at::ge(a, b)),
    SN_BINARY("logicalAnd", at::logical_and(a, b)),
    SN_BINARY("logicalOr", at::logical_or(a, b)),
    SN_BINARY("logicalXor", at::logical_xor(a, b)),
    SN_BINARY("bitwiseAnd", at::bitwise_and(a, b)),
    SN_BINARY("bitwiseOr", at::bitwise_or(a, b)),
    SN_BINARY("bitwiseXor", at::bitwise_xor(a, b)),
    SN_BINARY("matmul", at::matmul(a, b)),
    SN_BINARY("mm", at::mm(a, b)),
    SN_BINARY("bmm", at::bmm(a, b)),
    SN_BINARY("dot", at::dot(a, b)),
    SN_BINARY("outer", at::outer(a, b)),
    SN_BINARY("kron", at::kron(a, b)),
    SN_BINARY("complex", at::complex(a, b)),
    SN_BINARY("isclose", at::isclose(a, b)),
};
#undef SN_BINARY

#define SN_INPLACE(name, expr) Op<Inplace>{name, [](at::Tensor& a, const at::Tensor& b) { expr; }}
const Op<Inplace> kInplace[] = {
    SN_INPLACE("add_", a.add_(b)),
    SN_INPLACE("sub_", a.sub_(b)),
    SN_INPLACE("mul_", a.mul_(b)),
    SN_INPLACE("div_", a.div_(b)),
    SN_INPLACE("pow_", a.pow_(b)),
    SN_INPLACE("copy_", a.copy_(b)),
    SN_INPLACE("fill_", a.fill_(b)),
    SN_INPLACE("maximum_", a.copy_(at::maximum(a, b))),
    SN_INPLACE("minimum_", a.copy_(at::minimum(a, b))),
};
#undef SN_INPLACE

#define SN_REDUCE(name, expr) \
  Op<Reduce>{name, [](const at::Tensor& x, at::OptionalIntArrayRef dims, bool keepdim) -> at::Tensor { return expr; }}
const Op<Reduce> kReduce[] = {
    SN_REDUCE("sum", at::sum(x, dims, keepdim)),
    SN_REDUCE("mean", at::mean(x, dims, keepdim)),
    SN_REDUCE("nansum", at::nansum(x, dims, keepdim)),
    SN_REDUCE("nanmean", at::nanmean(x, dims, keepdim)),
    SN_REDUCE("amax", at::amax(x, dims.value_or(at::IntArrayRef{}), keepdim)),
    SN_REDUCE("amin", at::amin(x, dims.value_or(at::IntArrayRef{}), keepdim)),
    SN_REDUCE("logsumexp", at::logsumexp(x, dims.value_or(at::IntArrayRef{}), keepdim)),
    SN_REDUCE("countNonzero", at::count_nonzero(x, dims.value_or(at::IntArrayRef{}))),
    SN_REDUCE("all", dims && !dims->empty() ? at::all(x, *dims, keepdim) : at::all(x)),
    SN_REDUCE("any", dims && !dims->empty() ? at::any(x, *dims, keepdim) : at::any(x)),
};
#undef SN_REDUCE

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

// A JavaScript number as a tensor that promotes like a Python scalar ("wrapped number").
at::Tensor wrappedScalar(const at::Scalar& s, at::Device device) {
  at::Tensor t = c10::scalar_to_tensor(s, device);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
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
