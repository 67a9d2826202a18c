// A residual block whose shortcut is one of the paper's kinds (docs/paper.md, sections 1 and 3):
//   h   = pre(x)                      (e.g. BN-ReLU of a pre-activation block; may be empty)
//   s   = h or x                      (shortcutFrom: which one the shortcut sees)
//   out = post(branch(h) + shortcut(s)), with shortcut(s) by kind:
//     none                 0
//     identity             s
//     projection           projection(s)
//     identity+projection  identityLike(s) + projection(s)
// Every child is registered (flat, under the names given) whatever the kind, so switching the
// shortcut never changes the parameter set and one state dict serves every variant.
#pragma once

#include "nn/layer.h"

namespace skipnorm::nn {

enum class ShortcutKind { None, Identity, Projection, IdentityPlusProjection };

ShortcutKind parseShortcutKind(const std::string& text);
std::string shortcutKindName(ShortcutKind kind);

struct ResidualParts {
  NamedLayers pre, branch, post;
  std::string projectionName, identityLikeName;
  LayerPtr projection, identityLike;  // either may be null
  bool shortcutFromPre = false;
};

class Residual : public Layer {
 public:
  Residual(ResidualParts parts, ShortcutKind kind);
  at::Tensor forward(const at::Tensor& x) override;
  std::string describe() const override;
  void setShortcut(ShortcutKind kind);
  ShortcutKind shortcut() const { return kind_; }

 private:
  // What the block adds to the branch's output (undefined for kind none).
  at::Tensor shortcutOf(const at::Tensor& s, at::IntArrayRef outputSizes);
  ResidualParts parts_;
  ShortcutKind kind_;
};

}  // namespace skipnorm::nn
