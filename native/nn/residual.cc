#include "nn/residual.h"

#include "nn/fused_batch_norm.h"
#include "nn/layers.h"

namespace skipnorm::nn {

ShortcutKind parseShortcutKind(const std::string& text) {
  if (text == "none") return ShortcutKind::None;
  if (text == "identity") return ShortcutKind::Identity;
  if (text == "projection") return ShortcutKind::Projection;
  if (text == "identity+projection") return ShortcutKind::IdentityPlusProjection;
  TORCH_CHECK(false, "unknown shortcut kind '", text, "': expected none, identity, projection or identity+projection");
}

std::string shortcutKindName(ShortcutKind kind) {
  switch (kind) {
    case ShortcutKind::None: return "none";
    case ShortcutKind::Identity: return "identity";
    case ShortcutKind::Projection: return "projection";
    default: return "identity+projection";
  }
}

Residual::Residual(ResidualParts parts, ShortcutKind kind) : Layer("Residual"), parts_(std::move(parts)), kind_(kind) {
  TORCH_CHECK(!parts_.branch.empty(), "Residual: the branch must have at least one layer");
  for (auto* group : {&parts_.pre, &parts_.branch}) {
    for (auto& [name, layer] : *group) register_module(name, layer);
  }
  if (parts_.projection) register_module(parts_.projectionName, parts_.projection);
  if (parts_.identityLike) register_module(parts_.identityLikeName, parts_.identityLike);
  for (auto& [name, layer] : parts_.post) register_module(name, layer);
  setShortcut(kind);
}

void Residual::setShortcut(ShortcutKind kind) {
  if (kind == ShortcutKind::Projection || kind == ShortcutKind::IdentityPlusProjection) {
    TORCH_CHECK(parts_.projection != nullptr, "Residual: shortcut '", shortcutKindName(kind), "' needs a projection");
  }
  kind_ = kind;
}

at::Tensor Residual::shortcutOf(const at::Tensor& s, at::IntArrayRef outputSizes) {
  switch (kind_) {
    case ShortcutKind::None:
      return at::Tensor();
    case ShortcutKind::Identity:
      TORCH_CHECK(s.sizes() == outputSizes, "Residual: the identity shortcut needs the branch to keep the shape ", s.sizes(),
                  ", but it gives ", outputSizes);
      return s;
    case ShortcutKind::Projection:
      return (*parts_.projection)(s);
    case ShortcutKind::IdentityPlusProjection: {
      at::Tensor identity = parts_.identityLike ? (*parts_.identityLike)(s) : s;
      return identity + (*parts_.projection)(s);
    }
  }
  return at::Tensor();
}

at::Tensor Residual::forward(const at::Tensor& x) {
  at::Tensor h = runAll(parts_.pre, x);
  const at::Tensor& s = parts_.shortcutFromPre ? h : x;
  const NamedLayers& branch = parts_.branch;
  const size_t last = branch.size() - 1;
  // A post-activation block, relu(bn(...) + shortcut): the last batch norm, the addition and the
  // ReLU as one fused operation where it applies (nn/fused_batch_norm.h).
  const auto* post = parts_.post.empty() ? nullptr : dynamic_cast<const Activation*>(parts_.post.front().second.get());
  const bool mayFuse = post != nullptr && post->isReLU() && dynamic_cast<BatchNorm*>(branch[last].second.get()) != nullptr && fusionEnabledHere();
  at::Tensor out = runAll(branch, h, 0, mayFuse ? last : branch.size());
  if (mayFuse) {
    if (out.is_cuda() || fusedBatchNormMode() == FusionMode::Always) {
      at::Tensor z = shortcutOf(s, out.sizes());
      if (at::Tensor fused = fuseNormReLU(*branch[last].second, *post, out, z); fused.defined()) return runAll(parts_.post, fused, 1);
      out = (*branch[last].second)(out);
      return runAll(parts_.post, z.defined() ? out + z : out);
    }
    out = (*branch[last].second)(out);
  }
  at::Tensor z = shortcutOf(s, out.sizes());
  return runAll(parts_.post, z.defined() ? out + z : out);
}

std::string Residual::describe() const { return "shortcut " + shortcutKindName(kind_); }

}  // namespace skipnorm::nn
