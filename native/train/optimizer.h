// Optimisers over a module's parameters, in parameter groups, with PyTorch's single-tensor update formulas (what
// torch.optim uses on the CPU): SGD with momentum, dampening, Nesterov and weight decay; Adam and
// AdamW (decoupled weight decay), optionally AMSGrad. They run on any thread (the training loop's),
// and their state is named per parameter for checkpoints.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/layer.h"

namespace skipnorm::train {

using NamedTensor = std::pair<std::string, at::Tensor>;
// The parameters of each group but the default one, by name (the options' paramGroups, in order).
using GroupNames = std::vector<std::vector<std::string>>;
using Hyperparameters = std::vector<std::pair<std::string, double>>;

// Parameters come in groups, as torch.optim's param_groups: group 0, the default group, holds every
// parameter no other group names; group k > 0 the parameters named by the k-th entry of
// GroupNames. Each group has its own learning rate and hyperparameters.
class Optimizer {
 public:
  Optimizer(const nn::Layer& module, const GroupNames& groups);
  virtual ~Optimizer() = default;
  // Updates every parameter that has a gradient; parameters without one are skipped, as in PyTorch.
  virtual void step() = 0;
  void zeroGrad();
  size_t groupCount() const { return rates_.size(); }
  // The learning rate of a group's next step (a schedule sets it from the base each step).
  double lr(size_t group = 0) const { return rates_.at(group).lr; }
  // The base rate schedules multiply (PyTorch's initial_lr): the constructor's, or one set by the user.
  double baseLr(size_t group = 0) const { return rates_.at(group).base; }
  void setBaseLr(double lr, size_t group = 0) { rates_.at(group) = {lr, lr}; }
  // A schedule's multiplier: every group's rate becomes its base rate times `factor`, as
  // PyTorch's LambdaLR does. Returns whether any rate changed.
  bool setLrFactor(double factor);
  // The per-parameter state, named "<state>.<parameter name>", plus "step" where kept.
  virtual std::vector<NamedTensor> state() const = 0;
  // Checks every entry (names, shapes, nothing unrecognised) before it changes anything; with
  // apply false, only checks.
  virtual void loadState(const std::vector<NamedTensor>& state, bool apply = true) = 0;
  // What it is: 'sgd', 'adam' or 'adamw', and a group's hyperparameters (its base rate as 'lr'),
  // for checking that a resumed run uses the same optimiser.
  virtual std::string kind() const = 0;
  virtual Hyperparameters hyperparameters(size_t group = 0) const = 0;
  const std::vector<NamedTensor>& params() const { return params_; }
  // The group of params()[i].
  size_t groupOf(size_t i) const { return groupOf_[i]; }

 protected:
  // "" for the default group, " in paramGroups[k - 1]" for group k: where an invalid option is.
  static std::string where(size_t group);
  std::vector<NamedTensor> params_;
  std::vector<size_t> groupOf_;

 private:
  struct Rate {
    double lr, base;
  };
  std::vector<Rate> rates_;
};

struct SgdOptions {
  double lr = 0.01, momentum = 0, dampening = 0, weightDecay = 0;
  bool nesterov = false;
};

class Sgd : public Optimizer {
 public:
  // options[0] for the default group, options[k] for groups[k - 1].
  Sgd(const nn::Layer& module, std::vector<SgdOptions> options, const GroupNames& groups = {});
  void step() override;
  std::vector<NamedTensor> state() const override;
  void loadState(const std::vector<NamedTensor>& state, bool apply = true) override;
  std::string kind() const override { return "sgd"; }
  Hyperparameters hyperparameters(size_t group = 0) const override;

 private:
  void stepForeach(size_t group);  // every parameter on a GPU
  std::vector<SgdOptions> options_;  // per group
  std::vector<at::Tensor> momentum_;  // undefined until a parameter's first step, as in PyTorch
};

struct AdamOptions {
  double lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0;
  bool decoupled = false;  // AdamW
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  // options[0] for the default group, options[k] for groups[k - 1] (AdamW when options[0] is decoupled).
  Adam(const nn::Layer& module, std::vector<AdamOptions> options, const GroupNames& groups = {});
  void step() override;
  std::vector<NamedTensor> state() const override;
  void loadState(const std::vector<NamedTensor>& state, bool apply = true) override;
  std::string kind() const override { return options_[0].decoupled ? "adamw" : "adam"; }
  Hyperparameters hyperparameters(size_t group = 0) const override;

 private:
  std::vector<AdamOptions> options_;  // per group
  std::vector<at::Tensor> expAvg_, expAvgSq_, maxExpAvgSq_;
  std::vector<int64_t> steps_;
};

}  // namespace skipnorm::train
