#include "core/in_use.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/accumulate_grad.h>

#include <unordered_set>

#include "core/addon.h"
#include "core/errors.h"

namespace skipnorm {

void checkNotInUse(Napi::Env env, const void* object, const char* what) {
  if (addonOf(env).inUse.count(object)) {
    throw makeTorchError(env, opName(), std::string("the ") + what + " is in use by a running job (fit, evaluate or a spectrum); wait for it (or abort it) first");
  }
}

void checkTensorNotInUse(Napi::Env env, const at::Tensor& tensor) {
  if (addonOf(env).inUse.empty() || !tensor.defined()) return;
  const char* what = "tensor (a parameter, buffer or data tensor of that job)";
  checkNotInUse(env, tensor.unsafeGetTensorImpl(), what);
  if (tensor.has_storage()) checkNotInUse(env, tensor.storage().unsafeGetStorageImpl(), what);
}

void checkLeavesNotInUse(Napi::Env env, const at::Tensor& root) {
  if (addonOf(env).inUse.empty() || !root.defined()) return;
  if (!root.grad_fn()) {
    checkTensorNotInUse(env, root);
    return;
  }
  std::vector<torch::autograd::Node*> stack{root.grad_fn().get()};
  std::unordered_set<torch::autograd::Node*> seen{stack.front()};
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    for (const auto& edge : node->next_edges()) {
      torch::autograd::Node* next = edge.function.get();
      if (next == nullptr || !seen.insert(next).second) continue;
      if (auto* leaf = dynamic_cast<torch::autograd::AccumulateGrad*>(next)) checkTensorNotInUse(env, leaf->variable);
      else stack.push_back(next);
    }
  }
}

}  // namespace skipnorm
