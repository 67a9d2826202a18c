// The training loop, as a job on a skipnorm worker thread: batches from in-memory tensors
// (full batch, or seeded shuffled mini-batches), forward, loss, backward, clipping, optimiser
// step, learning-rate schedule, metrics, progress events, and hooks every N steps that hand
// results to JavaScript without waiting for it. Also `evaluate`, the same pass without updates.
//
// Data source (train/batches.h): in-memory tensors, or a native data loader.
#include <ATen/autocast_mode.h>
#include <c10/core/GradMode.h>
#include <napi.h>

#include <chrono>
#include <cstring>
#include <cmath>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/options.h"
#include "core/jobs.h"
#include "train/optim_api.h"
#include "train/schedule.h"
#include "nn/in_use.h"
#include "nn/layers.h"
#include "distributed/data_parallel.h"
#include "distributed/sync_batch_norm.h"
#include "spectra/diagnostics.h"
#include "train/batches.h"
#include "train/graphed_step.h"
#include "spectra/jacobian.h"

namespace skipnorm {

std::shared_ptr<data::Loader> loaderFromHandle(Napi::Env env, double handle);  // data/data_api.cc

namespace {

using Clock = std::chrono::steady_clock;

struct Hook {
  std::string kind;  // parameterStats | gradNorms
  int64_t every = 1;
};

struct LossOptions {
  std::string kind = "cross-entropy";
  double labelSmoothing = 0;
};

at::Tensor computeLoss(const LossOptions& o, const at::Tensor& out, const at::Tensor& labels) {
  if (o.kind == "mse") return at::mse_loss(out, labels.to(out.scalar_type()));
  return at::cross_entropy_loss(out, labels, std::nullopt, at::Reduction::Mean, -100, o.labelSmoothing);
}

bool isClassification(const at::Tensor& out, const at::Tensor& labels) {
  return out.dim() == 2 && labels.dim() == 1 && at::isIntegralType(labels.scalar_type(), false);
}

// Correct top-1 and top-5 predictions of a classification batch, as tensors on its device.
std::pair<at::Tensor, at::Tensor> correctCounts(const at::Tensor& out, const at::Tensor& labels) {
  c10::NoGradGuard noGrad;
  const int64_t k = std::min<int64_t>(5, out.size(1));
  return {out.argmax(1).eq(labels).sum(), std::get<1>(out.topk(k, 1)).eq(labels.unsqueeze(1)).any(1).sum()};
}

// The same as numbers (NaN when the batch is not a classification).
std::pair<double, double> correct(const at::Tensor& out, const at::Tensor& labels) {
  if (!isClassification(out, labels)) return {NAN, NAN};
  auto [top1, top5] = correctCounts(out, labels);
  return {top1.item<double>(), top5.item<double>()};
}

void clipGradNorm(const std::vector<train::NamedTensor>& params, double maxNorm) {
  c10::NoGradGuard noGrad;
  std::vector<at::Tensor> norms;
  for (const auto& [name, p] : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm(2));
  }
  if (norms.empty()) return;
  at::Tensor total = at::stack(norms).norm(2);
  at::Tensor coef = at::clamp(maxNorm / (total + 1e-6), std::nullopt, 1.0);
  for (const auto& [name, p] : params) {
    if (p.grad().defined()) p.grad().mul_(coef.to(p.grad().device()));
  }
}

// A hook event for JavaScript: { type: 'hook', name, step, values }.
Napi::Value hookEvent(Napi::Env env, const char* name, int64_t step, Napi::Value values) {
  Napi::Object event = Napi::Object::New(env);
  event.Set("type", "hook");
  event.Set("name", name);
  event.Set("step", Napi::Number::New(env, static_cast<double>(step)));
  event.Set("values", values);
  return event;
}

// Per parameter: [||x||, <x, cos(0.7 i)>] in float64 (a compact fingerprint for parity checks).
EventBuilder tensorStats(const char* name, int64_t step, const std::vector<train::NamedTensor>& params, bool grads) {
  c10::NoGradGuard noGrad;
  auto stats = std::make_shared<std::vector<std::tuple<std::string, double, double>>>();
  for (const auto& [key, p] : params) {
    at::Tensor t = grads ? p.grad() : p;
    if (!t.defined()) continue;
    at::Tensor flat = t.detach().to(at::kCPU, at::kDouble).flatten();
    at::Tensor probe = at::arange(flat.numel(), at::TensorOptions().dtype(at::kDouble)).mul_(0.7).cos_();
    stats->emplace_back(key, flat.norm().item<double>(), flat.dot(probe).item<double>());
  }
  return [name, step, stats](Napi::Env env) -> Napi::Value {
    Napi::Object values = Napi::Object::New(env);
    for (const auto& [key, norm, dot] : *stats) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Number::New(env, norm));
      pair.Set(1u, Napi::Number::New(env, dot));
      values.Set(key, pair);
    }
    return hookEvent(env, name, step, values);
  };
}

// An epoch's running totals: summed over its batches so far (examples-weighted loss, correct
// counts), kept in checkpoints so that a resumed epoch reports all of its batches.
struct EpochSums {
  int64_t epoch = 0, batches = 0;
  double loss = 0, top1 = 0, top5 = 0, examples = 0, seconds = 0;
};

Napi::Object epochSumsToJs(Napi::Env env, const EpochSums& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("epoch", Napi::Number::New(env, static_cast<double>(s.epoch)));
  o.Set("batches", Napi::Number::New(env, static_cast<double>(s.batches)));
  o.Set("loss", Napi::Number::New(env, s.loss));
  o.Set("top1", Napi::Number::New(env, s.top1));
  o.Set("top5", Napi::Number::New(env, s.top5));
  o.Set("examples", Napi::Number::New(env, s.examples));
  o.Set("seconds", Napi::Number::New(env, s.seconds));
  return o;
}

// The epoch event: means over the epoch's examples.
Napi::Object epochEventToJs(Napi::Env env, const EpochSums& s, int64_t perEpoch) {
  Napi::Object e = Napi::Object::New(env);
  e.Set("type", "epoch");
  e.Set("epoch", Napi::Number::New(env, static_cast<double>(s.epoch)));
  e.Set("loss", Napi::Number::New(env, s.loss / s.examples));
  e.Set("top1", Napi::Number::New(env, s.top1 / s.examples));
  e.Set("top5", Napi::Number::New(env, s.top5 / s.examples));
  e.Set("seconds", Napi::Number::New(env, s.seconds));
  // Complete: every batch of the epoch counted (across a resume too), not cut short by `steps`.
  e.Set("complete", Napi::Boolean::New(env, s.batches == perEpoch));
  return e;
}

class FitJob : public Job {
 public:
  std::shared_ptr<nn::Layer> model;
  std::shared_ptr<train::Optimizer> optimizer;
  std::unique_ptr<train::BatchSource> data;
  LossOptions loss;
  train::Schedule schedule;
  bool schedulePerStep = false;
  double baseLr = 0;
  int64_t epochs = 0, steps = 0;
  std::optional<double> clipNorm;
  int64_t progressEvery = 1;
  std::vector<Hook> hooks;
  std::optional<at::ScalarType> autocast;  // bfloat16 or float16 for the forward pass
  bool channelsLast = false;
  // Dynamic loss scaling for float16 (torch.amp.GradScaler's defaults): the loss is multiplied by
  // `scale` before backward, gradients divided after; a step whose gradients overflow is skipped
  // and the scale halved; 2000 good steps in a row double it.
  double lossScale = 65536.0;
  int64_t goodSteps = 0;
  // Tracking: the Jacobian spectrum of a fixed probe batch every N steps, on this thread.
  std::shared_ptr<nn::Sequential> sequential;
  at::Tensor probe;
  JacobianRequest probeRequest;
  int64_t probeEvery = 0;
  // Tracking: loss, PL ratio, gradient norms (and the top Hessian eigenvalue) of a fixed batch.
  at::Tensor diagnosticsInput, diagnosticsLabels;
  DiagnosticsRequest diagnosticsRequest;
  int64_t diagnosticsEvery = 0;
  // Data parallelism over the process group: this rank trains on its share of each batch, and
  // gradients are averaged across ranks (distributed/data_parallel.h).
  bool dataParallel = false, syncBatchNorm = false;
  int64_t startStep = 0;        // resume: steps already done (the data order and schedule follow)
  std::optional<EpochSums> resumedSums;  // resume: the totals of the epoch the checkpoint was in
  int64_t checkpointEvery = 0;  // post a snapshot of the whole training state every N steps
  // CUDA graphs (train/graphed_step.h): the step captured once and replayed; per-step results stay
  // on the device and are read only when reported.
  bool cudaGraph = false;

  FitJob() : Job("fit") {}

  // While the job runs, JavaScript may not touch the model (any module of it) or the optimiser.
  nn::InUseMarks marks;
  void settled() override { marks.release(); }

  // Copies of everything a resumed run needs, handed to JavaScript (which writes the file) so
  // that training goes on while it is saved.
  void postCheckpoint(JobContext& ctx, int64_t step, int64_t epoch, const EpochSums& sums) {
    c10::NoGradGuard noGrad;
    auto tensors = std::make_shared<std::vector<train::NamedTensor>>();
    for (const auto& item : model->named_parameters(true)) tensors->emplace_back("model." + item.key(), item.value().detach().clone());
    for (const auto& item : model->named_buffers(true)) tensors->emplace_back("model." + item.key(), item.value().detach().clone());
    for (auto& [name, t] : optimizer->state()) tensors->emplace_back("optimizer." + name, t.detach().clone());
    {
      at::Generator cpu = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(cpu.mutex());
      tensors->emplace_back("rng.cpu", cpu.get_state());
    }
    if (autocast == at::kHalf) {
      tensors->emplace_back("scaler.scale", at::scalar_tensor(lossScale, at::kDouble));
      tensors->emplace_back("scaler.good_steps", at::scalar_tensor(goodSteps, at::kLong));
    }
    ctx.post([tensors, step, epoch, sums](Napi::Env env) -> Napi::Value {
      Napi::Object e = Napi::Object::New(env);
      e.Set("type", "checkpoint");
      e.Set("step", Napi::Number::New(env, static_cast<double>(step)));
      e.Set("epoch", Napi::Number::New(env, static_cast<double>(epoch)));
      e.Set("epochSums", epochSumsToJs(env, sums));
      Napi::Array list = Napi::Array::New(env, tensors->size());
      for (size_t i = 0; i < tensors->size(); ++i) {
        Napi::Array pair = Napi::Array::New(env, 2);
        pair.Set(0u, Napi::String::New(env, (*tensors)[i].first));
        pair.Set(1u, wrapTensor(env, (*tensors)[i].second));
        list.Set(static_cast<uint32_t>(i), pair);
      }
      e.Set("tensors", list);
      return e;
    });
  }

  struct StepValues {
    double loss, top1, top5, lossScale;
    bool skipped;
  };

  // After each step: hooks, progress (`values` is asked only for a reported step), tracking and
  // checkpoints.
  template <typename Values, typename Sums>
  void afterStep(JobContext& ctx, int64_t step, int64_t epoch, int64_t total, Clock::time_point start, Values values, Sums sums) {
    for (const auto& hook : hooks) {
      if (step % hook.every != 0) continue;
      ctx.post(tensorStats(hook.kind == "gradNorms" ? "gradNorms" : "parameterStats", step, optimizer->params(), hook.kind == "gradNorms"));
    }
    if (step % progressEvery == 0 || step == total) {
      const StepValues v = values();
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      const double done = static_cast<double>(step - startStep);
      const double perStep = elapsed / done;
      ctx.progress({{"step", static_cast<double>(step)}, {"totalSteps", static_cast<double>(total)}, {"epoch", static_cast<double>(epoch)},
                    {"loss", v.loss}, {"top1", v.top1}, {"top5", v.top5}, {"lr", optimizer->lr()},
                    {"examplesPerSecond", done * data->batchSize() / std::max(elapsed, 1e-9)},
                    {"elapsed", elapsed}, {"eta", perStep * static_cast<double>(total - step)},
                    {"lossScale", v.lossScale}, {"skipped", v.skipped ? 1.0 : 0.0}});
    }
    if (probeEvery > 0 && step % probeEvery == 0) {
      auto spectrum = std::make_shared<JacobianSpectrumResult>(jacobianSpectrumOf(*sequential, probe, probeRequest, &ctx));
      ctx.post([spectrum, step](Napi::Env env) -> Napi::Value {
        const at::Tensor& v = spectrum->values;
        Napi::Float64Array values = Napi::Float64Array::New(env, v.numel());
        std::memcpy(values.Data(), v.data_ptr<double>(), v.numel() * sizeof(double));
        return hookEvent(env, "jacobianSpectrum", step, values);
      });
    }
    if (diagnosticsEvery > 0 && step % diagnosticsEvery == 0) {
      auto d = std::make_shared<DiagnosticsResult>(diagnosticsOf(*model, diagnosticsInput, diagnosticsLabels, diagnosticsRequest, &ctx));
      ctx.post([d, step](Napi::Env env) -> Napi::Value { return hookEvent(env, "diagnostics", step, diagnosticsToJs(env, *d)); });
    }
    if (checkpointEvery > 0 && (step % checkpointEvery == 0 || step == total)) postCheckpoint(ctx, step, epoch, sums());
  }

  void run(JobContext& ctx) override {
    data->cancelled = [&ctx] { return ctx.cancelled(); };
    const int64_t perEpoch = data->batchesPerEpoch();
    TORCH_CHECK(perEpoch > 0, "fit: the data holds ", data->examples(), " examples, fewer than one batch of ", data->batchSize(), " with dropLast");
    const int64_t total = steps > 0 ? steps : epochs * perEpoch;
    TORCH_CHECK(startStep >= 0 && startStep <= total, "fit: cannot resume at step ", startStep, " of a ", total, "-step run");
    model->train();
    if (channelsLast) {
      c10::NoGradGuard noGrad;
      for (auto& p : model->parameters(true)) {
        if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
      }
    }
    std::unique_ptr<distributed::DataParallel> parallel;
    std::optional<distributed::SyncBatchNormScope> syncBn;
    if (dataParallel) parallel = std::make_unique<distributed::DataParallel>(*model);
    if (syncBatchNorm) syncBn.emplace();
    std::unique_ptr<GraphState> graph;
    if (cudaGraph) graph = std::make_unique<GraphState>(*this);
    const auto start = Clock::now();
    int64_t step = startStep;
    // A run resumed at the end of its last epoch trains nothing: that epoch is the last one.
    if (resumedSums) lastEpoch_ = resumedSums;
    for (int64_t epoch = startStep / perEpoch; step < total; ++epoch) {
      // This call's totals start from those saved when it resumes inside the epoch.
      EpochSums base{epoch};
      if (resumedSums && resumedSums->epoch == epoch) base = *resumedSums;
      double lossSum = 0, top1Sum = 0, top5Sum = 0, seen = 0;
      int64_t batches = 0;
      if (graph) graph->startEpoch();
      const auto epochStart = Clock::now();
      // The epoch's totals so far (the graphed step keeps its sums on the device).
      auto sums = [&] {
        EpochSums s = base;
        if (graph) std::tie(lossSum, top1Sum, top5Sum) = graph->epochSums();
        s.batches += batches;
        s.loss += lossSum;
        s.top1 += top1Sum;
        s.top5 += top5Sum;
        s.examples += seen;
        s.seconds += std::chrono::duration<double>(Clock::now() - epochStart).count();
        return s;
      };
      const int64_t epochFirstBatch = step - epoch * perEpoch;
      for (int64_t b = epochFirstBatch; b < perEpoch && step < total; ++b) {
        ctx.checkCancelled();
        auto [x, y] = data->batchAt(epoch, b);
        if (parallel && !data->sharded()) {
          // In-memory data: this rank's equal share of the global batch.
          TORCH_CHECK(x.size(0) % parallel->worldSize() == 0, "fit: a batch of ", x.size(0), " examples does not split evenly over ", parallel->worldSize(), " ranks");
          const int64_t share = x.size(0) / parallel->worldSize();
          x = x.narrow(0, parallel->rank() * share, share);
          y = y.narrow(0, parallel->rank() * share, share);
        }
        if (channelsLast && x.dim() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
        const double lr = baseLr * schedule.factor(schedulePerStep ? step : epoch);
        if (graph) {
          if (lr != optimizer->lr()) graph->step.invalidate();  // the rate is baked into the captured update
          optimizer->setLr(lr);
          graph->step.run(x, y);
          ++step;
          ++batches;
          seen += static_cast<double>(x.size(0));
          afterStep(ctx, step, epoch, total, start, [&] { return graph->lastValues(); }, sums);
          continue;
        }
        optimizer->setLr(lr);
        optimizer->zeroGrad();
        if (parallel) parallel->beforeForward();
        at::Tensor out = forward(x);
        at::Tensor l = computeLoss(loss, out.to(at::kFloat), y);
        bool skipped = false;
        const double usedScale = autocast == at::kHalf ? lossScale : 1.0;
        if (parallel) parallel->beforeBackward(l);
        if (autocast == at::kHalf) {
          (l * lossScale).backward();
          skipped = !unscaleGradients();
        } else {
          l.backward();
        }
        if (!skipped) {
          if (clipNorm) clipGradNorm(optimizer->params(), *clipNorm);
          optimizer->step();
        }
        ++step;
        ++batches;
        const double n = static_cast<double>(x.size(0));
        const double lossValue = l.item<double>();
        auto [top1, top5] = correct(out, y);
        lossSum += lossValue * n;
        top1Sum += top1;
        top5Sum += top5;
        seen += n;
        afterStep(ctx, step, epoch, total, start, [&] { return StepValues{lossValue, top1 / n, top5 / n, usedScale, skipped}; }, sums);
      }
      const EpochSums done = sums();
      ctx.post([done, perEpoch](Napi::Env env) -> Napi::Value { return epochEventToJs(env, done, perEpoch); });
      lastEpoch_ = done;
    }
    steps_ = step;
    seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
    perEpoch_ = perEpoch;
  }

  Napi::Value result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("steps", Napi::Number::New(env, static_cast<double>(steps_)));
    out.Set("lastEpochLoss", Napi::Number::New(env, lastEpoch_ ? lastEpoch_->loss / lastEpoch_->examples : NAN));
    if (lastEpoch_) {
      Napi::Object e = epochEventToJs(env, *lastEpoch_, perEpoch_);
      e.Delete("type");
      out.Set("lastEpoch", e);
    } else {
      out.Set("lastEpoch", env.Null());
    }
    out.Set("seconds", Napi::Number::New(env, seconds_));
    return out;
  }

 private:
  // Autocast of the forward pass on the batch's device, as torch.autocast(device, dtype).
  // Without the cache of cast weights when capturing a CUDA graph (torch.cuda.graphs' advice).
  struct AutocastScope {
    c10::DeviceType device;
    bool previous, previousCache;
    at::ScalarType previousDtype;
    AutocastScope(c10::DeviceType d, at::ScalarType dtype, bool cache = true)
        : device(d),
          previous(at::autocast::is_autocast_enabled(d)),
          previousCache(at::autocast::is_autocast_cache_enabled()),
          previousDtype(at::autocast::get_autocast_dtype(d)) {
      at::autocast::set_autocast_dtype(device, dtype);
      at::autocast::set_autocast_enabled(device, true);
      at::autocast::set_autocast_cache_enabled(cache);
      at::autocast::increment_nesting();
    }
    ~AutocastScope() {
      if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
      at::autocast::set_autocast_enabled(device, previous);
      at::autocast::set_autocast_cache_enabled(previousCache);
      at::autocast::set_autocast_dtype(device, previousDtype);
    }
  };

  // The model's forward pass, under the run's autocast if any (`autocastCache`: autocast's cache
  // of cast weights, which a CUDA graph capture goes without).
  at::Tensor forward(const at::Tensor& x, bool autocastCache = true) {
    std::optional<AutocastScope> scope;
    if (autocast) scope.emplace(x.device().type(), *autocast, autocastCache);
    return (*model)(x);
  }

  // fit with cudaGraph: the captured step and what it leaves on the device (the last step's loss
  // and correct counts, rewritten by each replay, and the epoch's sums), read when reported.
  struct GraphState {
    FitJob& job;
    at::Tensor lastLoss, lastTop1, lastTop5, lossSum, top1Sum, top5Sum;
    double batch = 0;
    train::GraphedStep step;

    explicit GraphState(FitJob& j)
        : job(j), step(j.modelDevice(), [this](const at::Tensor& x, const at::Tensor& y) { trainStep(x, y); }, 3, [this] { job.optimizer->zeroGrad(); }) {
      // Allocated on the step's stream, before the capture.
      const auto options = at::TensorOptions().dtype(at::kDouble).device(j.modelDevice());
      lossSum = at::zeros({}, options);
      top1Sum = at::zeros({}, options);
      top5Sum = at::zeros({}, options);
    }

    // The step as eager fit does it (float16's host-side loss scaling excluded), without a sync.
    void trainStep(const at::Tensor& x, const at::Tensor& y) {
      job.optimizer->zeroGrad();
      at::Tensor out = job.forward(x, /*autocastCache=*/false);
      at::Tensor l = computeLoss(job.loss, out.to(at::kFloat), y);
      l.backward();
      if (job.clipNorm) clipGradNorm(job.optimizer->params(), *job.clipNorm);
      job.optimizer->step();
      c10::NoGradGuard noGrad;
      batch = static_cast<double>(x.size(0));
      lastLoss = l.detach();
      lossSum.add_(lastLoss.to(at::kDouble).mul(batch));  // as the host's lossValue * n
      if (isClassification(out, y)) {
        std::tie(lastTop1, lastTop5) = correctCounts(out, y);
        top1Sum.add_(lastTop1);
        top5Sum.add_(lastTop5);
      }
    }

    void startEpoch() {
      lossSum.zero_();
      top1Sum.zero_();
      top5Sum.zero_();
    }
    StepValues lastValues() const {
      const bool counted = lastTop1.defined();
      return {lastLoss.item<double>(), counted ? lastTop1.item<double>() / batch : NAN, counted ? lastTop5.item<double>() / batch : NAN, 1.0, false};
    }
    std::tuple<double, double, double> epochSums() const {
      const bool counted = lastTop1.defined();
      return {lossSum.item<double>(), counted ? top1Sum.item<double>() : NAN, counted ? top5Sum.item<double>() : NAN};
    }
  };

  at::Device modelDevice() const {
    const auto params = model->parameters(true);
    return params.empty() ? at::Device(at::kCPU) : params.front().device();
  }

  // Divides the gradients by the loss scale; false (and the scale halved) when any overflowed.
  bool unscaleGradients() {
    c10::NoGradGuard noGrad;
    bool finite = true;
    for (auto& [name, p] : optimizer->params()) {
      if (!p.grad().defined()) continue;
      p.grad().mul_(1.0 / lossScale);
      finite = finite && p.grad().isfinite().all().item<bool>();
    }
    if (!finite) {
      lossScale *= 0.5;
      goodSteps = 0;
      return false;
    }
    if (++goodSteps == 2000) {
      lossScale *= 2;
      goodSteps = 0;
    }
    return true;
  }

 public:
  void restoreScaler(double scale, int64_t good) {
    lossScale = scale;
    goodSteps = good;
  }

 private:

  int64_t steps_ = 0, perEpoch_ = 0;
  std::optional<EpochSums> lastEpoch_;  // the last epoch trained (or resumed at its end)
  double seconds_ = 0;
};

class EvaluateJob : public Job {
 public:
  std::shared_ptr<nn::Layer> model;
  std::unique_ptr<train::BatchSource> data;
  LossOptions loss;

  EvaluateJob() : Job("evaluate") {}

  nn::InUseMarks marks;
  void settled() override { marks.release(); }

  void run(JobContext& ctx) override {
    data->cancelled = [&ctx] { return ctx.cancelled(); };
    c10::NoGradGuard noGrad;
    nn::ModeSnapshot modes(*model);  // eval mode for the pass, then each module's own mode back
    model->eval();
    {
      for (int64_t b = 0; b < data->batchesPerEpoch(); ++b) {
        ctx.checkCancelled();
        auto [x, y] = data->batchAt(0, b);
        at::Tensor out = (*model)(x);
        const double n = static_cast<double>(x.size(0));
        lossSum_ += computeLoss(loss, out.to(at::kFloat), y).item<double>() * n;
        auto [top1, top5] = correct(out, y);
        top1_ += top1;
        top5_ += top5;
        seen_ += n;
      }
    }
  }

  Napi::Value result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", Napi::Number::New(env, lossSum_ / seen_));
    out.Set("top1", Napi::Number::New(env, top1_ / seen_));
    out.Set("top5", Napi::Number::New(env, top5_ / seen_));
    out.Set("examples", Napi::Number::New(env, seen_));
    return out;
  }

 private:
  double lossSum_ = 0, top1_ = 0, top5_ = 0, seen_ = 0;
};

// ---- options -----------------------------------------------------------------------------------

Napi::Value get(const Napi::Object& o, const char* key) { return o.Get(key); }

train::Schedule scheduleOption(const Napi::Object& o, int depth = 0) {
  if (depth > 8) throwTypeError(o.Env(), "schedules nest at most 8 deep (is a schedule part of itself?)");
  train::Schedule s;
  s.kind = stringOption(o, "kind", "constant");
  s.stepSize = intOption(o, "stepSize", 1);
  s.gamma = numberOption(o, "gamma", 0.1);
  s.tMax = intOption(o, "tMax", 1);
  s.minRatio = numberOption(o, "minRatio", 0);
  s.warmupSteps = intOption(o, "steps", 1);
  s.startFactor = numberOption(o, "startFactor", 1.0 / 3);
  Napi::Value milestones = get(o, "milestones");
  if (milestones.IsArray()) {
    Napi::Array a = milestones.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value m = a.Get(i);
      const double d = m.IsNumber() ? m.As<Napi::Number>().DoubleValue() : NAN;
      if (!std::isfinite(d) || d < 0 || std::trunc(d) != d) throwTypeError(o.Env(), "schedule milestones must be non-negative integers");
      s.milestones.push_back(static_cast<int64_t>(d));
    }
  }
  Napi::Value parts = get(o, "parts");
  if (parts.IsArray()) {
    Napi::Array a = parts.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsObject()) throwTypeError(o.Env(), "schedule parts must be objects");
      s.parts.push_back(scheduleOption(a.Get(i).As<Napi::Object>(), depth + 1));
    }
  }
  s.validate();
  return s;
}

std::shared_ptr<nn::Layer> modelOption(const Napi::Object& o) { return nn::moduleByHandle(o.Env(), numberOption(o, "model", -1), "model"); }

// Loader batches go to the model's device (that of its first parameter).
std::unique_ptr<train::BatchSource> dataOption(const Napi::Object& o, const nn::Layer& model, bool forEvaluation) {
  Napi::Value loader = get(o, "loader");
  if (!loader.IsUndefined() && !loader.IsNull()) {
    const auto params = model.parameters(true);
    const at::Device device = params.empty() ? at::Device(at::kCPU) : params.front().device();
    return std::make_unique<train::LoaderBatches>(loaderFromHandle(o.Env(), numberOption(o, "loader", -1)), device);
  }
  auto d = std::make_unique<train::TensorBatches>();
  // Detached aliases: the job never writes a gradient into the caller's tensors.
  d->input = tensorOption(o, "input").detach();
  d->labels = tensorOption(o, "labels").detach();
  TORCH_CHECK(d->input.dim() >= 1 && d->input.size(0) > 0, "the input must have at least one example");
  TORCH_CHECK(d->labels.dim() >= 1 && d->labels.size(0) == d->input.size(0), "input has ", d->input.size(0), " examples but labels has ",
              d->labels.dim() == 0 ? 0 : d->labels.size(0));
  d->size = intOption(o, "batchSize", 0);
  TORCH_CHECK(d->size >= 0, "batchSize must be positive (or 0 for the full batch)");
  d->shuffle = !forEvaluation && boolOption(o, "shuffle", true);
  d->dropLast = !forEvaluation && boolOption(o, "dropLast", false);
  d->seed = static_cast<uint64_t>(intOption(o, "seed", 0));
  return d;
}

// fit(options, onEvent) -> [promise, jobId]
Napi::Value Fit(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throwTypeError(info.Env(), "expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_unique<FitJob>();
  job->model = modelOption(o);
  job->optimizer = optimizerArg(info, 2);
  job->data = dataOption(o, *job->model, false);
  job->loss.kind = stringOption(o, "loss", "cross-entropy");
  TORCH_CHECK(job->loss.kind == "cross-entropy" || job->loss.kind == "mse", "loss must be 'cross-entropy' or 'mse'");
  job->loss.labelSmoothing = numberOption(o, "labelSmoothing", 0);
  job->epochs = intOption(o, "epochs", 0);
  job->steps = intOption(o, "steps", 0);
  TORCH_CHECK((job->epochs > 0) != (job->steps > 0), "give exactly one of epochs and steps (a positive integer)");
  job->baseLr = job->optimizer->baseLr();
  Napi::Value schedule = get(o, "schedule");
  if (schedule.IsObject()) job->schedule = scheduleOption(schedule.As<Napi::Object>());
  job->schedulePerStep = stringOption(o, "scheduleUnit", "epoch") == "step";
  if (!get(o, "clipGradNorm").IsUndefined() && !get(o, "clipGradNorm").IsNull()) {
    job->clipNorm = numberOption(o, "clipGradNorm", 0);
    TORCH_CHECK(std::isfinite(*job->clipNorm) && *job->clipNorm > 0, "clipGradNorm must be a positive number");
  }
  job->progressEvery = std::max<int64_t>(1, intOption(o, "progressEvery", 1));
  const std::string autocast = stringOption(o, "autocast", "none");
  TORCH_CHECK(autocast == "none" || autocast == "bfloat16" || autocast == "float16", "autocast must be 'none', 'bfloat16' or 'float16'");
  if (autocast == "bfloat16") job->autocast = at::kBFloat16;
  if (autocast == "float16") job->autocast = at::kHalf;
  job->channelsLast = boolOption(o, "channelsLast", false);
  job->restoreScaler(numberOption(o, "lossScale", 65536.0), intOption(o, "lossScaleGoodSteps", 0));
  job->startStep = intOption(o, "startStep", 0);
  Napi::Value resumed = get(o, "resumeEpochSums");
  if (resumed.IsObject()) {
    Napi::Object r = resumed.As<Napi::Object>();
    // (JSON keeps NaN, the counts of a run that is not a classification, as null: missing here.)
    job->resumedSums = EpochSums{intOption(r, "epoch"), intOption(r, "batches"), numberOption(r, "loss", NAN), numberOption(r, "top1", NAN),
                                 numberOption(r, "top5", NAN), numberOption(r, "examples", 0), numberOption(r, "seconds", 0)};
  }
  job->checkpointEvery = intOption(o, "checkpointEvery", 0);
  Napi::Value track = get(o, "trackJacobian");
  if (track.IsObject()) {
    Napi::Object t = track.As<Napi::Object>();
    job->sequential = std::dynamic_pointer_cast<nn::Sequential>(job->model);
    TORCH_CHECK(job->sequential, "tracking the Jacobian spectrum needs a Sequential model");
    job->probe = tensorOption(t, "input").detach();
    job->probeEvery = intOption(t, "every", 0);
    TORCH_CHECK(job->probeEvery > 0, "trackJacobian.every must be a positive integer");
    job->probeRequest.cut = intOption(t, "cut", 1);
    job->probeRequest.train = boolOption(t, "train", true);
    job->probeRequest.float64 = boolOption(t, "float64", true);
    job->probeRequest.lanczosSteps = intOption(t, "lanczosSteps", 0);
    job->probeRequest.reportProgress = false;
    job->probeRequest.cudaGraph = boolOption(t, "cudaGraph", false);
    job->probeRequest.rowsPerPass = intOption(t, "rowsPerPass", 0);
  }
  job->dataParallel = boolOption(o, "dataParallel", false);
  job->syncBatchNorm = boolOption(o, "syncBatchNorm", false);
  TORCH_CHECK(!job->syncBatchNorm || job->dataParallel, "syncBatchNorm needs data parallelism");
  job->cudaGraph = boolOption(o, "cudaGraph", false);
  if (job->cudaGraph) {
    TORCH_CHECK(!job->dataParallel, "cudaGraph does not combine with distributed training");
    TORCH_CHECK(job->autocast != at::kHalf, "cudaGraph does not combine with float16 autocast (its loss scaling decides on the host every step): use bfloat16");
    TORCH_CHECK(dynamic_cast<train::Sgd*>(job->optimizer.get()) != nullptr,
                "cudaGraph supports the SGD optimiser (Adam's bias corrections change on the host every step)");
    for (const auto& m : job->model->modules(true)) {
      auto bn = std::dynamic_pointer_cast<nn::BatchNorm>(m);
      TORCH_CHECK(!bn || !bn->cumulativeAverage(), "cudaGraph cannot capture batch norm with momentum: null (its cumulative average reads a counter on the host every step)");
    }
  }
  Napi::Value diagnostics = get(o, "trackDiagnostics");
  if (diagnostics.IsObject()) {
    Napi::Object t = diagnostics.As<Napi::Object>();
    job->diagnosticsInput = tensorOption(t, "input").detach();
    job->diagnosticsLabels = tensorOption(t, "labels").detach();
    job->diagnosticsEvery = intOption(t, "every", 0);
    TORCH_CHECK(job->diagnosticsEvery > 0, "trackDiagnostics.every must be a positive integer");
    job->diagnosticsRequest.train = boolOption(t, "train", true);
    job->diagnosticsRequest.lossFloor = numberOption(t, "lossFloor", 0);
    job->diagnosticsRequest.iterations = intOption(t, "hessianIterations", 0);
    job->diagnosticsRequest.tol = numberOption(t, "tol", 1e-6);
  }
  Napi::Value hooks = get(o, "hooks");
  if (hooks.IsArray()) {
    Napi::Array a = hooks.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsObject()) throwTypeError(info.Env(), "hooks must be objects { kind, every }");
      Napi::Object h = a.Get(i).As<Napi::Object>();
      Hook hook{stringOption(h, "kind", "parameterStats"), intOption(h, "every", 1)};
      TORCH_CHECK(hook.kind == "parameterStats" || hook.kind == "gradNorms", "unknown hook '", hook.kind, "'");
      TORCH_CHECK(hook.every > 0, "a hook's 'every' must be positive");
      job->hooks.push_back(hook);
    }
  }
  job->marks.mark(info.Env(), *job->model, job->optimizer.get());
  for (const auto& t : job->data->tensors()) job->marks.markTensor(info.Env(), t);
  for (const auto& t : {job->probe, job->diagnosticsInput, job->diagnosticsLabels}) job->marks.markTensor(info.Env(), t);
  return submitJob(info.Env(), std::move(job), info[1]);
}

// evaluate(options) -> [promise, jobId]
Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throwTypeError(info.Env(), "expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_unique<EvaluateJob>();
  job->model = modelOption(o);
  job->data = dataOption(o, *job->model, true);
  job->loss.kind = stringOption(o, "loss", "cross-entropy");
  // Evaluation switches the model to eval mode: no other call may touch it meanwhile.
  job->marks.mark(info.Env(), *job->model);
  for (const auto& t : job->data->tensors()) job->marks.markTensor(info.Env(), t);
  return submitJob(info.Env(), std::move(job), info.Env().Undefined());
}

}  // namespace

void registerTraining(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "fit", Fit);
  exportFunction(env, exports, "evaluate", Evaluate);
}

}  // namespace skipnorm
