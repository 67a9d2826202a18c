// Optimisers over a module's parameters, with PyTorch's single-tensor update formulas (what
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

class Optimizer {
 public:
  explicit Optimizer(const nn::Layer& module);
  virtual ~Optimizer() = default;
  // Updates every parameter that has a gradient; parameters without one are skipped, as in PyTorch.
  virtual void step() = 0;
  void zeroGrad();
  double lr() const { return lr_; }
  // The learning rate of this step (schedules set it from the base each step).
  void setLr(double lr) { lr_ = lr; }
  // The base rate schedules multiply (PyTorch's initial_lr): the constructor's, or one set by the user.
  double baseLr() const { return baseLr_; }
  void setBaseLr(double lr) { baseLr_ = lr_ = lr; }
  // The per-parameter state, named "<state>.<parameter name>", plus "step" where kept.
  virtual std::vector<NamedTensor> state() const = 0;
  // Checks every entry (names, shapes, nothing unrecognised) before it changes anything; with
  // apply false, only checks.
  virtual void loadState(const std::vector<NamedTensor>& state, bool apply = true) = 0;
  // What it is: 'sgd', 'adam' or 'adamw', and its hyperparameters (the base rate as 'lr'), for
  // checking that a resumed run uses the same optimiser.
  virtual std::string kind() const = 0;
  virtual std::vector<std::pair<std::string, double>> hyperparameters() const = 0;
  const std::vector<NamedTensor>& params() const { return params_; }

 protected:
  std::vector<NamedTensor> params_;
  double lr_ = 0, baseLr_ = 0;
};

struct SgdOptions {
  double lr = 0.01, momentum = 0, dampening = 0, weightDecay = 0;
  bool nesterov = false;
};

class Sgd : public Optimizer {
 public:
  Sgd(const nn::Layer& module, SgdOptions options);
  void step() override;
  std::vector<NamedTensor> state() const override;
  void loadState(const std::vector<NamedTensor>& state, bool apply = true) override;
  std::string kind() const override { return "sgd"; }
  std::vector<std::pair<std::string, double>> hyperparameters() const override {
    return {{"lr", baseLr_}, {"momentum", options_.momentum}, {"dampening", options_.dampening}, {"weightDecay", options_.weightDecay}, {"nesterov", options_.nesterov ? 1.0 : 0.0}};
  }

 private:
  void stepForeach();  // every parameter on a GPU
  SgdOptions options_;
  std::vector<at::Tensor> momentum_;  // undefined until a parameter's first step, as in PyTorch
};

struct AdamOptions {
  double lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0;
  bool decoupled = false;  // AdamW
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  Adam(const nn::Layer& module, AdamOptions options);
  void step() override;
  std::vector<NamedTensor> state() const override;
  void loadState(const std::vector<NamedTensor>& state, bool apply = true) override;
  std::string kind() const override { return options_.decoupled ? "adamw" : "adam"; }
  std::vector<std::pair<std::string, double>> hyperparameters() const override {
    return {{"lr", baseLr_}, {"beta1", options_.beta1}, {"beta2", options_.beta2}, {"eps", options_.eps}, {"weightDecay", options_.weightDecay}, {"amsgrad", options_.amsgrad ? 1.0 : 0.0}};
  }

 private:
  AdamOptions options_;
  std::vector<at::Tensor> expAvg_, expAvgSq_, maxExpAvgSq_;
  std::vector<int64_t> steps_;
};

}  // namespace skipnorm::train
