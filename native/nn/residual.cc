#include "nn/residual.h"

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

at::Tensor Residual::forward(const at::Tensor& x) {
  at::Tensor h = runAll(parts_.pre, x);
  at::Tensor out = runAll(parts_.branch, h);
  const at::Tensor& s = parts_.shortcutFromPre ? h : x;
  switch (kind_) {
    case ShortcutKind::None:
      break;
    case ShortcutKind::Identity:
      TORCH_CHECK(s.sizes() == out.sizes(), "Residual: the identity shortcut needs the branch to keep the shape ", s.sizes(),
                  ", but it gives ", out.sizes());
      out = out + s;
      break;
    case ShortcutKind::Projection:
      out = out + (*parts_.projection)(s);
      break;
    case ShortcutKind::IdentityPlusProjection: {
      at::Tensor identity = parts_.identityLike ? (*parts_.identityLike)(s) : s;
      out = out + (identity + (*parts_.projection)(s));
      break;
    }
  }
  return runAll(parts_.post, out);
}

std::string Residual::describe() const { return "shortcut " + shortcutKindName(kind_); }

}  // namespace skipnorm::nn
