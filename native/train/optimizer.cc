#include "train/optimizer.h"

#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_map>

namespace skipnorm::train {

namespace {

// Saved state by name; restoring takes entries out, and what is left was not recognised.
class SavedState {
 public:
  SavedState(const std::vector<NamedTensor>& state, const char* optimizer) : optimizer_(optimizer) {
    for (const auto& [name, t] : state) {
      TORCH_CHECK(t.defined(), "optimizer state '", name, "' is undefined");
      TORCH_CHECK(saved_.emplace(name, t).second, "optimizer state '", name, "' is given twice");
    }
  }
  // The saved tensor for `key`, checked against the parameter's shape; undefined when absent.
  at::Tensor take(const std::string& key, const at::Tensor& param) {
    auto it = saved_.find(key);
    if (it == saved_.end()) return at::Tensor();
    at::Tensor t = it->second;
    saved_.erase(it);
    TORCH_CHECK(t.sizes() == param.sizes(), "optimizer state '", key, "' has shape ", t.sizes(), ", but the parameter has ", param.sizes());
    TORCH_CHECK(at::isFloatingType(t.scalar_type()), "optimizer state '", key, "' must be floating point, not ", t.scalar_type());
    return t.to(param.options()).clone();
  }
  // A step count (a one-element tensor), or nullopt when absent.
  std::optional<int64_t> takeStep(const std::string& key) {
    auto it = saved_.find(key);
    if (it == saved_.end()) return std::nullopt;
    at::Tensor t = it->second;
    saved_.erase(it);
    TORCH_CHECK(t.numel() == 1, "optimizer state '", key, "' must hold one number");
    const double v = t.item<double>();
    TORCH_CHECK(std::isfinite(v) && v >= 0 && std::trunc(v) == v, "optimizer state '", key, "' must be a step count, got ", v);
    return static_cast<int64_t>(v);
  }
  // Every entry must have been taken: state of another optimiser, another model or other options
  // is an error, not something to skip.
  void checkAllTaken() const {
    if (saved_.empty()) return;
    std::vector<std::string> names;
    for (const auto& [name, t] : saved_) names.push_back(name);
    std::sort(names.begin(), names.end());
    TORCH_CHECK(false, "optimizer state '", names.front(), "'", names.size() > 1 ? c10::str(" (and ", names.size() - 1, " more)") : std::string(),
                " is not state of this ", optimizer_, " (another optimiser, other options, or another model's parameters)");
  }

 private:
  std::unordered_map<std::string, at::Tensor> saved_;
  const char* optimizer_;
};

}  // namespace

Optimizer::Optimizer(const nn::Layer& module, const GroupNames& groups) : rates_(groups.size() + 1, Rate{0, 0}) {
  const auto named = module.named_parameters(true);
  std::unordered_map<std::string, size_t> groupOfName;
  for (size_t k = 0; k < groups.size(); ++k) {
    for (const auto& name : groups[k]) {
      TORCH_CHECK(named.contains(name), "paramGroups[", k, "] names '", name, "', which is not a parameter of the model");
      auto [it, added] = groupOfName.emplace(name, k + 1);
      TORCH_CHECK(added || it->second == k + 1, "parameter '", name, "' is in two parameter groups (paramGroups[", it->second - 1, "] and [", k, "])");
    }
  }
  for (const auto& item : named) {
    if (!item.value().requires_grad()) continue;
    auto it = groupOfName.find(item.key());
    params_.emplace_back(item.key(), item.value());
    groupOf_.push_back(it == groupOfName.end() ? 0 : it->second);
  }
}

void Optimizer::zeroGrad() {
  for (auto& [name, p] : params_) p.mutable_grad().reset();
}

bool Optimizer::setLrFactor(double factor) {
  bool changed = false;
  for (auto& r : rates_) {
    const double lr = r.base * factor;
    changed = changed || lr != r.lr;
    r.lr = lr;
  }
  return changed;
}

std::string Optimizer::where(size_t group) { return group == 0 ? std::string() : c10::str(" in paramGroups[", group - 1, "]"); }

// ---- SGD ---------------------------------------------------------------------------------------

Sgd::Sgd(const nn::Layer& module, std::vector<SgdOptions> options, const GroupNames& groups)
    : Optimizer(module, groups), options_(std::move(options)), momentum_(params_.size()) {
  TORCH_CHECK(options_.size() == groups.size() + 1, "SGD: one set of options per parameter group");
  for (size_t g = 0; g < options_.size(); ++g) {
    const SgdOptions& o = options_[g];
    TORCH_CHECK(o.lr >= 0, "SGD: invalid learning rate ", o.lr, where(g));
    TORCH_CHECK(o.momentum >= 0, "SGD: invalid momentum ", o.momentum, where(g));
    TORCH_CHECK(o.weightDecay >= 0, "SGD: invalid weight decay ", o.weightDecay, where(g));
    TORCH_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), "SGD: Nesterov momentum requires a momentum and zero dampening", where(g));
    setBaseLr(o.lr, g);
  }
}

Hyperparameters Sgd::hyperparameters(size_t group) const {
  const SgdOptions& o = options_.at(group);
  return {{"lr", baseLr(group)}, {"momentum", o.momentum}, {"dampening", o.dampening}, {"weightDecay", o.weightDecay}, {"nesterov", o.nesterov ? 1.0 : 0.0}};
}

void Sgd::step() {
  c10::NoGradGuard noGrad;
  bool allCuda = true;
  for (const auto& [name, p] : params_) allCuda = allCuda && (!p.grad().defined() || p.is_cuda());
  if (allCuda) {
    for (size_t g = 0; g < groupCount(); ++g) stepForeach(g);
    return;
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    if (!p.grad().defined()) continue;
    const SgdOptions& o = options_[groupOf_[i]];
    at::Tensor grad = p.grad();
    if (o.weightDecay != 0) grad = grad.add(p, o.weightDecay);
    if (o.momentum != 0) {
      at::Tensor& buf = momentum_[i];
      if (!buf.defined()) {
        buf = grad.clone().detach();
      } else {
        buf.mul_(o.momentum).add_(grad, 1 - o.dampening);
      }
      grad = o.nesterov ? grad.add(buf, o.momentum) : buf;
    }
    p.add_(grad, -lr(groupOf_[i]));
  }
}

// torch.optim.SGD's multi-tensor ("foreach") update of one group, which PyTorch uses by default
// when every parameter is on a GPU: the same formulas over all the group's parameters in a handful
// of kernel launches instead of a few per parameter.
void Sgd::stepForeach(size_t group) {
  const SgdOptions& o = options_[group];
  std::vector<at::Tensor> params, grads, bufs;
  std::vector<size_t> index;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (groupOf_[i] != group || !params_[i].second.grad().defined()) continue;
    params.push_back(params_[i].second);
    grads.push_back(params_[i].second.grad());
    index.push_back(i);
  }
  if (params.empty()) return;
  if (o.weightDecay != 0) grads = at::_foreach_add(grads, params, o.weightDecay);
  if (o.momentum != 0) {
    bool first = false;
    for (size_t k = 0; k < index.size(); ++k) first = first || !momentum_[index[k]].defined();
    if (first) {
      // As torch.optim.SGD: a parameter's first buffer is a copy of its gradient.
      for (size_t k = 0; k < index.size(); ++k) {
        at::Tensor& buf = momentum_[index[k]];
        if (!buf.defined()) buf = grads[k].clone().detach();
        else buf.mul_(o.momentum).add_(grads[k], 1 - o.dampening);
      }
    }
    for (size_t k = 0; k < index.size(); ++k) bufs.push_back(momentum_[index[k]]);
    if (!first) {
      at::_foreach_mul_(bufs, o.momentum);
      at::_foreach_add_(bufs, grads, 1 - o.dampening);
    }
    if (o.nesterov) {
      grads = at::_foreach_add(grads, bufs, o.momentum);
    } else {
      grads = bufs;
    }
  }
  at::_foreach_add_(params, grads, -lr(group));
}

std::vector<NamedTensor> Sgd::state() const {
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (momentum_[i].defined()) out.emplace_back("momentum_buffer." + params_[i].first, momentum_[i]);
  }
  return out;
}

void Sgd::loadState(const std::vector<NamedTensor>& state, bool apply) {
  bool some = false, all = true;
  for (const auto& o : options_) {
    some = some || o.momentum != 0;
    all = all && o.momentum != 0;
  }
  SavedState saved(state, all ? "SGD optimiser with momentum" : some ? "SGD optimiser with momentum in some parameter groups" : "SGD optimiser without momentum");
  std::vector<at::Tensor> momentum(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    if (options_[groupOf_[i]].momentum != 0) momentum[i] = saved.take("momentum_buffer." + params_[i].first, params_[i].second);
  }
  saved.checkAllTaken();
  if (apply) momentum_ = std::move(momentum);  // only once everything checked out
}

// ---- Adam / AdamW ------------------------------------------------------------------------------

Adam::Adam(const nn::Layer& module, std::vector<AdamOptions> options, const GroupNames& groups)
    : Optimizer(module, groups), options_(std::move(options)), expAvg_(params_.size()), expAvgSq_(params_.size()), maxExpAvgSq_(params_.size()),
      steps_(params_.size(), 0) {
  TORCH_CHECK(options_.size() == groups.size() + 1, "Adam: one set of options per parameter group");
  const char* name = options_[0].decoupled ? "AdamW" : "Adam";
  for (size_t g = 0; g < options_.size(); ++g) {
    const AdamOptions& o = options_[g];
    TORCH_CHECK(o.lr >= 0, name, ": invalid learning rate ", o.lr, where(g));
    TORCH_CHECK(o.eps >= 0, name, ": invalid epsilon ", o.eps, where(g));
    TORCH_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, name, ": betas must be in [0, 1)", where(g));
    TORCH_CHECK(o.weightDecay >= 0, name, ": invalid weight decay ", o.weightDecay, where(g));
    setBaseLr(o.lr, g);
  }
}

Hyperparameters Adam::hyperparameters(size_t group) const {
  const AdamOptions& o = options_.at(group);
  return {{"lr", baseLr(group)}, {"beta1", o.beta1}, {"beta2", o.beta2}, {"eps", o.eps}, {"weightDecay", o.weightDecay}, {"amsgrad", o.amsgrad ? 1.0 : 0.0}};
}

void Adam::step() {
  c10::NoGradGuard noGrad;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    if (!p.grad().defined()) continue;
    const AdamOptions& o = options_[groupOf_[i]];
    const double rate = lr(groupOf_[i]);
    at::Tensor grad = p.grad();
    if (!expAvg_[i].defined()) {
      expAvg_[i] = at::zeros_like(p, at::MemoryFormat::Preserve);
      expAvgSq_[i] = at::zeros_like(p, at::MemoryFormat::Preserve);
      if (o.amsgrad) maxExpAvgSq_[i] = at::zeros_like(p, at::MemoryFormat::Preserve);
    }
    const int64_t step = ++steps_[i];
    if (o.weightDecay != 0) {
      if (o.decoupled) p.mul_(1 - rate * o.weightDecay);
      else grad = grad.add(p, o.weightDecay);
    }
    expAvg_[i].lerp_(grad, 1 - o.beta1);
    expAvgSq_[i].mul_(o.beta2).addcmul_(grad, grad, 1 - o.beta2);
    const double biasCorrection1 = 1 - std::pow(o.beta1, static_cast<double>(step));
    const double biasCorrection2 = 1 - std::pow(o.beta2, static_cast<double>(step));
    const double stepSize = rate / biasCorrection1;
    const double biasCorrection2Sqrt = std::sqrt(biasCorrection2);
    at::Tensor denom;
    if (o.amsgrad) {
      at::maximum_out(maxExpAvgSq_[i], maxExpAvgSq_[i], expAvgSq_[i]);
      denom = (maxExpAvgSq_[i].sqrt() / biasCorrection2Sqrt).add_(o.eps);
    } else {
      denom = (expAvgSq_[i].sqrt() / biasCorrection2Sqrt).add_(o.eps);
    }
    p.addcdiv_(expAvg_[i], denom, -stepSize);
  }
}

std::vector<NamedTensor> Adam::state() const {
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!expAvg_[i].defined()) continue;
    const std::string& name = params_[i].first;
    out.emplace_back("step." + name, at::scalar_tensor(static_cast<double>(steps_[i]), at::kFloat));
    out.emplace_back("exp_avg." + name, expAvg_[i]);
    out.emplace_back("exp_avg_sq." + name, expAvgSq_[i]);
    if (maxExpAvgSq_[i].defined()) out.emplace_back("max_exp_avg_sq." + name, maxExpAvgSq_[i]);
  }
  return out;
}

void Adam::loadState(const std::vector<NamedTensor>& state, bool apply) {
  bool some = false, all = true;
  for (const auto& o : options_) {
    some = some || o.amsgrad;
    all = all && o.amsgrad;
  }
  const std::string kind = options_[0].decoupled ? "AdamW optimiser" : "Adam optimiser";
  const std::string description = all ? kind + " with AMSGrad" : some ? kind + " with AMSGrad in some parameter groups" : kind;
  SavedState saved(state, description.c_str());
  std::vector<at::Tensor> expAvg(params_.size()), expAvgSq(params_.size()), maxExpAvgSq(params_.size());
  std::vector<int64_t> steps(params_.size(), 0);
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    const at::Tensor& p = params_[i].second;
    expAvg[i] = saved.take("exp_avg." + name, p);
    expAvgSq[i] = saved.take("exp_avg_sq." + name, p);
    const bool amsgrad = options_[groupOf_[i]].amsgrad;
    if (amsgrad) maxExpAvgSq[i] = saved.take("max_exp_avg_sq." + name, p);
    const auto step = saved.takeStep("step." + name);
    TORCH_CHECK(expAvg[i].defined() == expAvgSq[i].defined() && expAvg[i].defined() == step.has_value(), "optimizer state for '", name, "' is incomplete");
    steps[i] = step.value_or(0);
    if (amsgrad && expAvg[i].defined() && !maxExpAvgSq[i].defined()) maxExpAvgSq[i] = at::zeros_like(p);
  }
  saved.checkAllTaken();
  if (!apply) return;
  // Only once everything checked out.
  expAvg_ = std::move(expAvg);
  expAvgSq_ = std::move(expAvgSq);
  maxExpAvgSq_ = std::move(maxExpAvgSq);
  steps_ = std::move(steps);
}

}  // namespace skipnorm::train
