// The closed set of tensor operations a traced forward may use (nn/graph.h). Each is named and
// takes its arguments in the order of the native function the TypeScript tensor method calls
// (native/tensor/), so a recording is that call with tensors replaced by references; element-wise
// ops, reductions and their kin carry their op's name instead of its code (the tables in
// tensor/op_table.h), so a saved graph does not depend on the codes of one build.
#include <ATen/ATen.h>

#include <string>
#include <unordered_map>

#include "core/args.h"
#include "nn/graph.h"
#include "tensor/op_table.h"

namespace skipnorm::nn {

namespace {

using Out = std::vector<at::Tensor>;

template <typename Fn, size_t N>
Fn byName(const op_table::Op<Fn> (&table)[N], const std::string& name, const char* kind) {
  for (const auto& op : table) {
    if (name == op.name) return op.fn;
  }
  TORCH_CHECK(false, "unknown ", kind, " operation '", name, "' in the graph");
}

// The second operand of a binary op: a tensor, or a number when the flag says so.
at::Tensor otherOperand(const OpArgs& a, size_t i, const at::Tensor& like) {
  if (!a.isNull(i + 1) && a.boolean(i + 1)) return wrappedScalar(a.scalar(i), like.device());
  return a.tensor(i);
}

int64_t reduction(const std::string& r) {
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  TORCH_CHECK(false, "reduction must be 'mean', 'sum' or 'none', got '", r, "'");
}

std::optional<at::ScalarType> optionalDtype(const OpArgs& a, size_t i) {
  auto code = a.optionalInteger(i);
  if (!code) return std::nullopt;
  const auto type = static_cast<at::ScalarType>(*code);
  TORCH_CHECK(*code >= 0 && *code < static_cast<int64_t>(at::ScalarType::NumOptions) && isSupportedDtype(type), "unknown dtype code ", *code);
  return type;
}

struct Entry {
  OpFn fn;
  int64_t arity;
};

const std::unordered_map<std::string, Entry>& ops() {
  static const std::unordered_map<std::string, Entry> table = {
      // element-wise, by op name
      {"unary", {[](const OpArgs& a) -> Out { return {byName(op_table::kUnary, a.string(0), "unary")(a.tensor(1))}; }, 2}},
      {"binary", {[](const OpArgs& a) -> Out {
                    auto fn = byName(op_table::kBinary, a.string(0), "binary");
                    at::Tensor x = a.tensor(1);
                    at::Tensor y = otherOperand(a, 2, x);
                    return {!a.isNull(4) && a.boolean(4) ? fn(y, x) : fn(x, y)};
                  }, 5}},
      {"reduce", {[](const OpArgs& a) -> Out {
                    auto dims = a.optionalIntegers(2);
                    at::OptionalIntArrayRef ref = dims ? at::OptionalIntArrayRef(*dims) : std::nullopt;
                    return {byName(op_table::kReduce, a.string(0), "reduction")(a.tensor(1), ref, !a.isNull(3) && a.boolean(3))};
                  }, 4}},
      {"stdVar", {[](const OpArgs& a) -> Out {
                    auto dims = a.optionalIntegers(2);
                    at::OptionalIntArrayRef ref = dims ? at::OptionalIntArrayRef(*dims) : std::nullopt;
                    at::Tensor x = a.tensor(1);
                    return {a.boolean(0) ? at::std(x, ref, a.scalar(3), a.boolean(4)) : at::var(x, ref, a.scalar(3), a.boolean(4))};
                  }, 5}},
      {"vectorNorm", {[](const OpArgs& a) -> Out {
                        auto dims = a.optionalIntegers(2);
                        at::OptionalIntArrayRef ref = dims ? at::OptionalIntArrayRef(*dims) : std::nullopt;
                        return {at::linalg_vector_norm(a.tensor(0), a.scalar(1), ref, a.boolean(3))};
                      }, 4}},
      {"cumulative", {[](const OpArgs& a) -> Out { return {a.boolean(0) ? at::cumprod(a.tensor(1), a.integer(2)) : at::cumsum(a.tensor(1), a.integer(2))}; }, 3}},
      {"clamp", {[](const OpArgs& a) -> Out { return {at::clamp(a.tensor(0), a.optionalScalar(1), a.optionalScalar(2))}; }, 3}},
      {"where", {[](const OpArgs& a) -> Out { return {at::where(a.tensor(0), a.tensor(1), a.tensor(2))}; }, 3}},
      {"scalarTensor", {[](const OpArgs& a) -> Out { return {wrappedScalar(a.scalar(0), at::kCPU)}; }, 1}},
      {"maskedFill", {[](const OpArgs& a) -> Out { return {a.tensor(0).masked_fill(a.tensor(1), a.scalar(2))}; }, 3}},
      // shapes and views
      {"reshape", {[](const OpArgs& a) -> Out { return {a.tensor(0).reshape(a.integers(1))}; }, 2}},
      {"view", {[](const OpArgs& a) -> Out { return {a.tensor(0).view(a.integers(1))}; }, 2}},
      {"permute", {[](const OpArgs& a) -> Out { return {a.tensor(0).permute(a.integers(1))}; }, 2}},
      {"transpose", {[](const OpArgs& a) -> Out { return {a.tensor(0).transpose(a.integer(1), a.integer(2))}; }, 3}},
      {"movedim", {[](const OpArgs& a) -> Out { return {a.tensor(0).movedim(a.integers(1), a.integers(2))}; }, 3}},
      {"squeeze", {[](const OpArgs& a) -> Out {
                     auto dims = a.optionalIntegers(1);
                     return {dims ? a.tensor(0).squeeze(*dims) : a.tensor(0).squeeze()};
                   }, 2}},
      {"unsqueeze", {[](const OpArgs& a) -> Out { return {a.tensor(0).unsqueeze(a.integer(1))}; }, 2}},
      {"flatten", {[](const OpArgs& a) -> Out { return {a.tensor(0).flatten(a.integer(1), a.integer(2))}; }, 3}},
      {"unflatten", {[](const OpArgs& a) -> Out { return {a.tensor(0).unflatten(a.integer(1), a.integers(2))}; }, 3}},
      {"expand", {[](const OpArgs& a) -> Out { return {a.tensor(0).expand(a.integers(1))}; }, 2}},
      {"repeat", {[](const OpArgs& a) -> Out { return {a.tensor(0).repeat(a.integers(1))}; }, 2}},
      {"narrow", {[](const OpArgs& a) -> Out { return {a.tensor(0).narrow(a.integer(1), a.integer(2), a.integer(3))}; }, 4}},
      {"select", {[](const OpArgs& a) -> Out { return {a.tensor(0).select(a.integer(1), a.integer(2))}; }, 3}},
      {"slice", {[](const OpArgs& a) -> Out { return {a.tensor(0).slice(a.integer(1), a.optionalInteger(2), a.optionalInteger(3), a.integer(4))}; }, 5}},
      {"cat", {[](const OpArgs& a) -> Out { return {at::cat(a.tensors(0), a.integer(1))}; }, 2}},
      {"stack", {[](const OpArgs& a) -> Out { return {at::stack(a.tensors(0), a.integer(1))}; }, 2}},
      {"split", {[](const OpArgs& a) -> Out {
                   if (a.isList(1)) return a.tensor(0).split_with_sizes(a.integers(1), a.integer(2));
                   return a.tensor(0).split(a.integer(1), a.integer(2));
                 }, 3}},
      {"chunk", {[](const OpArgs& a) -> Out { return a.tensor(0).chunk(a.integer(1), a.integer(2)); }, 3}},
      {"unbind", {[](const OpArgs& a) -> Out { return a.tensor(0).unbind(a.integer(1)); }, 2}},
      {"flip", {[](const OpArgs& a) -> Out { return {a.tensor(0).flip(a.integers(1))}; }, 2}},
      {"roll", {[](const OpArgs& a) -> Out { return {a.tensor(0).roll(a.integers(1), a.integers(2))}; }, 3}},
      {"contiguous", {[](const OpArgs& a) -> Out { return {a.tensor(0).contiguous()}; }, 1}},
      {"clone", {[](const OpArgs& a) -> Out { return {a.tensor(0).clone()}; }, 1}},
      {"detach", {[](const OpArgs& a) -> Out { return {a.tensor(0).detach()}; }, 1}},
      {"indexSelect", {[](const OpArgs& a) -> Out { return {a.tensor(0).index_select(a.integer(1), a.tensor(2))}; }, 3}},
      {"gather", {[](const OpArgs& a) -> Out { return {a.tensor(0).gather(a.integer(1), a.tensor(2))}; }, 3}},
      // to(x, device|null, dtype|null, copy): a dtype conversion (a traced graph runs where its module is)
      {"to", {[](const OpArgs& a) -> Out {
                TORCH_CHECK(a.isNull(1), "a traced graph cannot move tensors between devices");
                at::Tensor x = a.tensor(0);
                return {x.to(optionalDtype(a, 2).value_or(x.scalar_type()), false, !a.isNull(3) && a.boolean(3))};
              }, 4}},
      // neural-network functions (native/tensor/functional.cc)
      {"conv2d", {[](const OpArgs& a) -> Out {
                    if (a.isString(4)) return {at::conv2d(a.tensor(0), a.tensor(1), a.optionalTensor(2), a.integers(3), a.string(4), a.integers(5), a.integer(6))};
                    return {at::conv2d(a.tensor(0), a.tensor(1), a.optionalTensor(2), a.integers(3), a.integers(4), a.integers(5), a.integer(6))};
                  }, 7}},
      {"convTranspose2d", {[](const OpArgs& a) -> Out {
                             return {at::conv_transpose2d(a.tensor(0), a.tensor(1), a.optionalTensor(2), a.integers(3), a.integers(4), a.integers(5), a.integer(6), a.integers(7))};
                           }, 8}},
      {"maxPool2d", {[](const OpArgs& a) -> Out { return {at::max_pool2d(a.tensor(0), a.integers(1), a.integers(2), a.integers(3), a.integers(4), a.boolean(5))}; }, 6}},
      {"avgPool2d", {[](const OpArgs& a) -> Out {
                       return {at::avg_pool2d(a.tensor(0), a.integers(1), a.integers(2), a.integers(3), a.boolean(4), a.boolean(5), a.optionalInteger(6))};
                     }, 7}},
      {"adaptiveAvgPool2d", {[](const OpArgs& a) -> Out { return {at::adaptive_avg_pool2d(a.tensor(0), a.integers(1))}; }, 2}},
      {"adaptiveMaxPool2d", {[](const OpArgs& a) -> Out { return {std::get<0>(at::adaptive_max_pool2d(a.tensor(0), a.integers(1)))}; }, 2}},
      {"linear", {[](const OpArgs& a) -> Out { return {at::linear(a.tensor(0), a.tensor(1), a.optionalTensor(2))}; }, 3}},
      {"softmax", {[](const OpArgs& a) -> Out {
                     at::Tensor x = a.tensor(1);
                     return {a.boolean(0) ? at::log_softmax(x, a.integer(2), optionalDtype(a, 3)) : at::softmax(x, a.integer(2), optionalDtype(a, 3))};
                   }, 4}},
      {"gelu", {[](const OpArgs& a) -> Out { return {at::gelu(a.tensor(0), a.string(1))}; }, 2}},
      {"leakyRelu", {[](const OpArgs& a) -> Out { return {at::leaky_relu(a.tensor(0), a.scalar(1))}; }, 2}},
      {"elu", {[](const OpArgs& a) -> Out { return {at::elu(a.tensor(0), a.scalar(1))}; }, 2}},
      {"softplus", {[](const OpArgs& a) -> Out { return {at::softplus(a.tensor(0), a.scalar(1), a.scalar(2))}; }, 3}},
      {"hardtanh", {[](const OpArgs& a) -> Out { return {at::hardtanh(a.tensor(0), a.scalar(1), a.scalar(2))}; }, 3}},
      // Dropout follows the module's mode: on in train(), off in eval(), whatever the trace saw.
      {"dropout", {[](const OpArgs& a) -> Out { return {at::dropout(a.tensor(0), a.number(1), a.boolean(2) && a.module().is_training())}; }, 3}},
      {"layerNorm", {[](const OpArgs& a) -> Out { return {at::layer_norm(a.tensor(0), a.integers(1), a.optionalTensor(2), a.optionalTensor(3), a.number(4))}; }, 5}},
      {"groupNorm", {[](const OpArgs& a) -> Out { return {at::group_norm(a.tensor(0), a.integer(1), a.optionalTensor(2), a.optionalTensor(3), a.number(4))}; }, 5}},
      {"pad", {[](const OpArgs& a) -> Out { return {at::pad(a.tensor(0), a.integers(1), a.string(2), a.optionalNumber(3))}; }, 4}},
      // losses inside a forward (auxiliary terms)
      {"mseLoss", {[](const OpArgs& a) -> Out { return {at::mse_loss(a.tensor(0), a.tensor(1), reduction(a.string(2)))}; }, 3}},
  };
  return table;
}

}  // namespace

OpFn graphOp(const std::string& name, int64_t* arity) {
  const auto& table = ops();
  auto it = table.find(name);
  if (it == table.end()) return nullptr;
  if (arity) *arity = it->second.arity;
  return it->second.fn;
}

std::vector<std::string> graphOpNames() {
  std::vector<std::string> out;
  for (const auto& [name, entry] : ops()) out.push_back(name);
  return out;
}

}  // namespace skipnorm::nn
