// Views, reshaping, joining, splitting and indexing.
#include <ATen/ATen.h>
#include <napi.h>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/in_use.h"
#include "tensor/register.h"

namespace skipnorm {

namespace {

Napi::Value Reshape(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).reshape(intListArg(info, 1)));
}
Napi::Value View(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).view(intListArg(info, 1)));
}
Napi::Value Permute(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).permute(intListArg(info, 1)));
}
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).transpose(intArg(info, 1), intArg(info, 2)));
}
Napi::Value Movedim(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).movedim(intListArg(info, 1), intListArg(info, 2)));
}
// squeeze(x, dims|null)
Napi::Value Squeeze(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArg(info, 0);
  auto dims = optionalIntListArg(info, 1);
  return wrapTensor(info.Env(), dims ? x.squeeze(*dims) : x.squeeze());
}
Napi::Value Unsqueeze(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).unsqueeze(intArg(info, 1)));
}
Napi::Value Flatten(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).flatten(intArg(info, 1), intArg(info, 2)));
}
Napi::Value Unflatten(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).unflatten(intArg(info, 1), intListArg(info, 2)));
}
Napi::Value Expand(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).expand(intListArg(info, 1)));
}
Napi::Value Repeat(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).repeat(intListArg(info, 1)));
}
Napi::Value Narrow(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).narrow(intArg(info, 1), intArg(info, 2), intArg(info, 3)));
}
Napi::Value Select(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).select(intArg(info, 1), intArg(info, 2)));
}
// slice(x, dim, start|null, end|null, step)
Napi::Value SliceDim(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).slice(intArg(info, 1), optionalIntArg(info, 2), optionalIntArg(info, 3), intArg(info, 4)));
}
Napi::Value Cat(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::cat(tensorListArg(info, 0), intArg(info, 1)));
}
Napi::Value Stack(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::stack(tensorListArg(info, 0), intArg(info, 1)));
}
// split(x, sizes, dim): sizes is one size (equal chunks) or a list of sizes.
Napi::Value Split(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArg(info, 0);
  int64_t dim = intArg(info, 2);
  if (info[1].IsArray()) return wrapTensors(info.Env(), x.split_with_sizes(intListArg(info, 1), dim));
  return wrapTensors(info.Env(), x.split(intArg(info, 1), dim));
}
Napi::Value Chunk(const Napi::CallbackInfo& info) {
  return wrapTensors(info.Env(), tensorArg(info, 0).chunk(intArg(info, 1), intArg(info, 2)));
}
Napi::Value Unbind(const Napi::CallbackInfo& info) {
  return wrapTensors(info.Env(), tensorArg(info, 0).unbind(intArg(info, 1)));
}
Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).index_select(intArg(info, 1), tensorArg(info, 2)));
}
Napi::Value Gather(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).gather(intArg(info, 1), tensorArg(info, 2)));
}
// scatter(x, dim, index, src, reduce|null): out-of-place, like torch.scatter.
Napi::Value Scatter(const Napi::CallbackInfo& info) {
  const at::Tensor& x = tensorArg(info, 0);
  if (isMissing(info, 4)) return wrapTensor(info.Env(), x.scatter(intArg(info, 1), tensorArg(info, 2), tensorArg(info, 3)));
  return wrapTensor(info.Env(), x.scatter_reduce(intArg(info, 1), tensorArg(info, 2), tensorArg(info, 3), stringArg(info, 4)));
}
Napi::Value MaskedFill(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).masked_fill(tensorArg(info, 1), scalarArg(info, 2)));
}
Napi::Value Flip(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).flip(intListArg(info, 1)));
}
Napi::Value Roll(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).roll(intListArg(info, 1), intListArg(info, 2)));
}
// triangle(upper, x, diagonal)
Napi::Value Triangle(const Napi::CallbackInfo& info) {
  bool upper = boolArg(info, 0);
  setOpName(upper ? "triu" : "tril");
  const at::Tensor& x = tensorArg(info, 1);
  return wrapTensor(info.Env(), upper ? x.triu(intArg(info, 2)) : x.tril(intArg(info, 2)));
}
Napi::Value Diag(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).diag(intArg(info, 1)));
}
Napi::Value Diagonal(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).diagonal(intArg(info, 1), intArg(info, 2), intArg(info, 3)));
}

// Indices arrive as an array of small arrays: ['i', n] select, ['s', start|null, stop|null, step]
// slice, ['n'] new axis, ['e'] ellipsis, ['t', handle] tensor (integer or boolean mask).
std::vector<at::indexing::TensorIndex> indicesArg(const Napi::CallbackInfo& info, size_t index) {
  using namespace at::indexing;
  if (index >= info.Length() || !info[index].IsArray()) throwTypeError(info.Env(), "indices must be an array");
  Napi::Array specs = info[index].As<Napi::Array>();
  TensorTable& table = addonOf(info.Env()).tensors;
  std::vector<TensorIndex> out;
  auto optInt = [](Napi::Value v) -> std::optional<c10::SymInt> {
    if (v.IsNull() || v.IsUndefined()) return std::nullopt;
    return c10::SymInt(static_cast<int64_t>(v.As<Napi::Number>().DoubleValue()));
  };
  for (uint32_t i = 0; i < specs.Length(); ++i) {
    Napi::Array spec = specs.Get(i).As<Napi::Array>();
    std::string kind = spec.Get(0u).As<Napi::String>().Utf8Value();
    if (kind == "i") {
      out.emplace_back(static_cast<int64_t>(spec.Get(1u).As<Napi::Number>().DoubleValue()));
    } else if (kind == "s") {
      out.emplace_back(Slice(optInt(spec.Get(1u)), optInt(spec.Get(2u)), optInt(spec.Get(3u))));
    } else if (kind == "n") {
      out.emplace_back(None);
    } else if (kind == "e") {
      out.emplace_back(Ellipsis);
    } else if (kind == "t") {
      at::Tensor* t = table.find(spec.Get(1u).As<Napi::Number>().DoubleValue());
      if (t == nullptr) throw makeTorchError(info.Env(), opName(), "an index tensor was disposed (use after dispose)");
      out.emplace_back(*t);
    } else {
      throwTypeError(info.Env(), "unknown index kind " + kind);
    }
  }
  return out;
}

Napi::Value Index(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), tensorArg(info, 0).index(indicesArg(info, 1)));
}
// indexPut(x, indices, value, valueIsScalar): writes into x in place, like x[indices] = value.
Napi::Value IndexPut(const Napi::CallbackInfo& info) {
  at::Tensor& x = tensorArg(info, 0);
  checkTensorNotInUse(info.Env(), x);
  auto indices = indicesArg(info, 1);
  if (!isMissing(info, 3) && boolArg(info, 3)) x.index_put_(indices, scalarArg(info, 2));
  else x.index_put_(indices, tensorArg(info, 2));
  return info.Env().Undefined();
}

}  // namespace

void registerShape(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "reshape", Reshape);
  exportFunction(env, exports, "view", View);
  exportFunction(env, exports, "permute", Permute);
  exportFunction(env, exports, "transpose", Transpose);
  exportFunction(env, exports, "movedim", Movedim);
  exportFunction(env, exports, "squeeze", Squeeze);
  exportFunction(env, exports, "unsqueeze", Unsqueeze);
  exportFunction(env, exports, "flatten", Flatten);
  exportFunction(env, exports, "unflatten", Unflatten);
  exportFunction(env, exports, "expand", Expand);
  exportFunction(env, exports, "repeat", Repeat);
  exportFunction(env, exports, "narrow", Narrow);
  exportFunction(env, exports, "select", Select);
  exportFunction(env, exports, "slice", SliceDim);
  exportFunction(env, exports, "cat", Cat);
  exportFunction(env, exports, "stack", Stack);
  exportFunction(env, exports, "split", Split);
  exportFunction(env, exports, "chunk", Chunk);
  exportFunction(env, exports, "unbind", Unbind);
  exportFunction(env, exports, "indexSelect", IndexSelect);
  exportFunction(env, exports, "gather", Gather);
  exportFunction(env, exports, "scatter", Scatter);
  exportFunction(env, exports, "maskedFill", MaskedFill);
  exportFunction(env, exports, "flip", Flip);
  exportFunction(env, exports, "roll", Roll);
  exportFunction(env, exports, "triangle", Triangle);
  exportFunction(env, exports, "diag", Diag);
  exportFunction(env, exports, "diagonal", Diagonal);
  exportFunction(env, exports, "index", Index);
  exportFunction(env, exports, "indexPut", IndexPut);
}

}  // namespace skipnorm
