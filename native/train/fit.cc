// fit: the training loop as a job on a skipnorm worker thread, with no JavaScript per step.
// Its parts: the config (train/fit_config.h), the step, eager or graphed (train/eager_step.h,
// train/graphed_step.h), the epoch's totals and events (train/epoch_end.h), hooks and tracking
// (train/fit_hooks.h), checkpoints (train/checkpoint_writer.h), validation (train/evaluation.h)
// and weight snapshots asked for while it runs (train/snapshot_requests.h). The loop here:
// batches in the run's order, the learning rate of the schedule, progress every `progressEvery`
// steps (the only time the host waits for the device, besides epoch ends and validations), hooks,
// validation, and snapshots.
#include <c10/core/GradMode.h>
#include <napi.h>

#include <chrono>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "distributed/data_parallel.h"
#include "distributed/sync_batch_norm.h"
#include "nn/in_use.h"
#include "train/evaluation.h"
#include "train/fit_config.h"
#include "train/graphed_step.h"
#include "train/optim_api.h"
#include "train/snapshot_requests.h"

namespace skipnorm {

namespace {

using Clock = std::chrono::steady_clock;
using namespace train;

class FitJob : public Job {
 public:
  explicit FitJob(FitConfig config) : Job("fit"), c_(std::move(config)), hooks_(c_.hooks) {}

  // While the job runs, JavaScript may not touch the model (any module of it), the optimiser or
  // the tensors it reads.
  nn::InUseMarks marks;
  // Weight snapshots JavaScript asks for while the job holds the model.
  std::shared_ptr<SnapshotRequests> snapshotRequests = std::make_shared<SnapshotRequests>();
  void settled() override {
    unregisterSnapshotRequests(c_.step.model.get());
    marks.release();
  }
  const FitConfig& config() const { return c_; }
  std::vector<at::Tensor> tensorsRead() const {
    std::vector<at::Tensor> all = c_.data->tensors();
    for (const auto& t : hooks_.tensors()) all.push_back(t);
    if (c_.validation) {
      for (const auto& t : c_.validation->tensors()) all.push_back(t);
    }
    return all;
  }

  void run(JobContext& ctx) override {
    BatchSource& data = *c_.data;
    data.cancelled = [&ctx] { return ctx.cancelled(); };
    if (c_.validation) c_.validation->cancelled = [&ctx] { return ctx.cancelled(); };
    const int64_t perEpoch = data.batchesPerEpoch();
    TORCH_CHECK(perEpoch > 0, "fit: the data holds ", data.examples(), " examples, fewer than one batch of ", data.batchSize(), " with dropLast");
    const int64_t total = c_.steps > 0 ? c_.steps : c_.epochs * perEpoch;
    TORCH_CHECK(c_.startStep <= total, "fit: cannot resume at step ", c_.startStep, " of a ", total, "-step run");
    nn::Layer& model = *c_.step.model;
    model.train();
    if (c_.channelsLast) {
      c10::NoGradGuard noGrad;
      for (auto& p : model.parameters(true)) {
        if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
      }
    }
    hooks_.open();
    std::unique_ptr<distributed::DataParallel> parallel;
    std::optional<distributed::SyncBatchNormScope> syncBn;
    if (c_.dataParallel) parallel = std::make_unique<distributed::DataParallel>(model);
    if (c_.syncBatchNorm) syncBn.emplace();
    std::unique_ptr<TrainStep> trainStep;
    EagerStep* eager = nullptr;
    if (c_.cudaGraph) {
      trainStep = std::make_unique<GraphedTrainStep>(c_.step, modelDevice());
    } else {
      auto e = std::make_unique<EagerStep>(c_.step, parallel.get(), c_.scaler);
      eager = e.get();
      trainStep = std::move(e);
    }
    std::unique_ptr<CheckpointWriter> writer;
    if (c_.checkpoint.every > 0) writer = std::make_unique<CheckpointWriter>(c_.checkpoint);
    const auto start = Clock::now();
    int64_t step = c_.startStep;
    // A run resumed at the end of its last epoch trains nothing: that epoch is the last one.
    if (c_.resumedSums) lastEpoch_ = c_.resumedSums;
    lastEpochStep_ = step;
    // Tracking measures the initial network too, before the first update.
    if (step == 0) hooks_.tracking(ctx, 0, model);
    serveSnapshots(ctx, step);
    for (int64_t epoch = step / perEpoch; step < total; ++epoch) {
      // This call's totals start from those saved when it resumes inside the epoch.
      EpochSums base{epoch};
      if (c_.resumedSums && c_.resumedSums->epoch == epoch) base = *c_.resumedSums;
      int64_t batches = 0;
      double seen = 0;
      trainStep->startEpoch();
      const auto epochStart = Clock::now();
      auto sums = [&] {
        EpochSums s = base;
        const auto [loss, top1, top5] = trainStep->epochSums();
        s.batches += batches;
        s.loss += loss;
        s.top1 += top1;
        s.top5 += top5;
        s.examples += seen;
        s.seconds += std::chrono::duration<double>(Clock::now() - epochStart).count();
        return s;
      };
      for (int64_t b = step - epoch * perEpoch; b < perEpoch && step < total; ++b) {
        ctx.checkCancelled();
        auto [x, y] = data.batchAt(epoch, b);
        if (parallel && !data.sharded()) {
          // In-memory data: this rank's equal share of the global batch.
          TORCH_CHECK(x.size(0) % parallel->worldSize() == 0, "fit: a batch of ", x.size(0), " examples does not split evenly over ", parallel->worldSize(), " ranks");
          const int64_t share = x.size(0) / parallel->worldSize();
          x = x.narrow(0, parallel->rank() * share, share);
          y = y.narrow(0, parallel->rank() * share, share);
        }
        if (c_.channelsLast && x.dim() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
        const int64_t t = c_.scheduleUnit == ScheduleUnit::Step ? step : epoch;
        trainStep->run(x, y, c_.schedule.factor(t));
        ++step;
        ++batches;
        seen += static_cast<double>(x.size(0));
        hooks_.parameterHooks(ctx, step, *c_.step.optimizer);
        if (step % c_.progressEvery == 0 || step == total) reportStep(ctx, *trainStep, step, epoch, total, start);
        hooks_.tracking(ctx, step, model);
        if (c_.validation && c_.validateEvery > 0 && (step % c_.validateEvery == 0 || step == total)) validate(ctx, step, epoch);
        serveSnapshots(ctx, step);
        if (writer && (step % c_.checkpoint.every == 0 || step == total)) {
          // The snapshot is made once there is room for it (a slow disk holds training here).
          if (!writer->waitForRoom([&ctx] { return ctx.cancelled(); })) ctx.checkCancelled();
          writer->save(step, epoch, sums(), snapshot(eager));
        }
        if (writer) postWritten(ctx, writer->takeWritten());
      }
      const EpochSums done = sums();
      hooks_.weightHistograms(ctx, step, *c_.step.optimizer);
      if (c_.validation && c_.validateEvery == 0) validate(ctx, step, epoch);
      const double lr = c_.step.optimizer->lr();
      ctx.post([done, step, perEpoch, lr](Napi::Env env) -> Napi::Value { return epochEventToJs(env, done, step, perEpoch, lr); });
      lastEpoch_ = done;
      lastEpochStep_ = step;
    }
    serveSnapshots(ctx, step);
    if (writer) {
      writer->finish();
      postWritten(ctx, writer->takeWritten());
      ctx.checkCancelled();
    }
    steps_ = step;
    seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
    perEpoch_ = perEpoch;
    hostReads_ = trainStep->hostReads();
  }

  Napi::Value result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("steps", Napi::Number::New(env, static_cast<double>(steps_)));
    out.Set("lastEpochLoss", Napi::Number::New(env, lastEpoch_ ? lastEpoch_->loss / lastEpoch_->examples : NAN));
    if (lastEpoch_) {
      Napi::Object e = epochEventToJs(env, *lastEpoch_, lastEpochStep_, perEpoch_, c_.step.optimizer->lr());
      e.Delete("type");
      out.Set("lastEpoch", e);
    } else {
      out.Set("lastEpoch", env.Null());
    }
    out.Set("seconds", Napi::Number::New(env, seconds_));
    out.Set("hostReads", Napi::Number::New(env, static_cast<double>(hostReads_)));
    return out;
  }

 private:
  at::Device modelDevice() const {
    const auto params = c_.step.model->parameters(true);
    return params.empty() ? at::Device(at::kCPU) : params.front().device();
  }

  void reportStep(JobContext& ctx, TrainStep& trainStep, int64_t step, int64_t epoch, int64_t total, Clock::time_point start) {
    const StepValues v = trainStep.lastValues();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const double done = static_cast<double>(step - c_.startStep);
    ctx.progress({{"step", static_cast<double>(step)}, {"totalSteps", static_cast<double>(total)}, {"epoch", static_cast<double>(epoch)},
                  {"loss", v.loss}, {"top1", v.top1}, {"top5", v.top5}, {"lr", c_.step.optimizer->lr()},
                  {"examplesPerSecond", done * c_.data->batchSize() / std::max(elapsed, 1e-9)},
                  {"elapsed", elapsed}, {"eta", elapsed / done * static_cast<double>(total - step)},
                  {"lossScale", v.lossScale}, {"skipped", v.skipped ? 1.0 : 0.0}});
  }

  // The validation data through the model in eval mode (each module's mode restored after).
  void validate(JobContext& ctx, int64_t step, int64_t epoch) {
    const auto start = Clock::now();
    const EvaluationTotals t = evaluateModel(*c_.step.model, *c_.validation, c_.step.loss, validations_++, [&ctx] { ctx.checkCancelled(); });
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ctx.post([t, step, epoch, seconds](Napi::Env env) -> Napi::Value {
      Napi::Object e = Napi::Object::New(env);
      e.Set("type", "validation");
      e.Set("step", static_cast<double>(step));
      e.Set("epoch", static_cast<double>(epoch));
      e.Set("loss", t.loss);
      e.Set("top1", t.top1);
      e.Set("top5", t.top5);
      e.Set("examples", t.examples);
      e.Set("seconds", seconds);
      return e;
    });
  }

  // Contiguous host copies of the model's parameters and buffers, named with `prefix`: the writer
  // thread then writes bytes and runs no LibTorch kernel (a parallel one there would start a
  // second OpenMP team, which slows the training thread's).
  io::NamedTensors modelCopy(const std::string& prefix) {
    c10::NoGradGuard noGrad;
    io::NamedTensors tensors;
    nn::Layer& model = *c_.step.model;
    for (const auto& item : model.named_parameters(true)) tensors.emplace_back(prefix + item.key(), hostCopy(item.value()));
    for (const auto& item : model.named_buffers(true)) tensors.emplace_back(prefix + item.key(), hostCopy(item.value()));
    return tensors;
  }
  static at::Tensor hostCopy(const at::Tensor& t) { return t.detach().to(at::kCPU, t.scalar_type(), /*non_blocking=*/false, /*copy=*/true, at::MemoryFormat::Contiguous); }

  // Each weight snapshot asked for since the last step, as its own copy: { type: 'snapshot', step, state }.
  void serveSnapshots(JobContext& ctx, int64_t step) {
    for (int n = snapshotRequests->take(); n > 0; --n) {
      auto state = std::make_shared<io::NamedTensors>(modelCopy(""));
      ctx.post([state, step](Napi::Env env) -> Napi::Value {
        Napi::Object e = Napi::Object::New(env);
        e.Set("type", "snapshot");
        e.Set("step", Napi::Number::New(env, static_cast<double>(step)));
        Napi::Object tensors = Napi::Object::New(env);
        for (auto& [name, t] : *state) tensors.Set(name, wrapTensor(env, t));
        e.Set("state", tensors);
        return e;
      });
    }
  }

  // Everything a resumed run needs, copied to host memory: model, optimiser state, the CPU
  // generator, and float16's loss scaler.
  io::NamedTensors snapshot(const EagerStep* eager) {
    c10::NoGradGuard noGrad;
    io::NamedTensors tensors = modelCopy("model.");
    for (auto& [name, t] : c_.step.optimizer->state()) tensors.emplace_back("optimizer." + name, hostCopy(t));
    {
      at::Generator cpu = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(cpu.mutex());
      tensors.emplace_back("rng.cpu", cpu.get_state());
    }
    if (eager && c_.step.autocast == at::kHalf) {
      tensors.emplace_back("scaler.scale", at::scalar_tensor(eager->scaler().scale, at::kDouble));
      tensors.emplace_back("scaler.good_steps", at::scalar_tensor(eager->scaler().goodSteps, at::kLong));
    }
    return tensors;
  }

  static void postWritten(JobContext& ctx, const std::vector<CheckpointWriter::Written>& written) {
    for (const auto& w : written) {
      ctx.post([w](Napi::Env env) -> Napi::Value {
        Napi::Object e = Napi::Object::New(env);
        e.Set("type", "checkpoint");
        e.Set("step", Napi::Number::New(env, static_cast<double>(w.step)));
        e.Set("file", Napi::String::New(env, w.file));
        return e;
      });
    }
  }

  FitConfig c_;
  FitHooks hooks_;
  int64_t steps_ = 0, perEpoch_ = 0, hostReads_ = 0, validations_ = 0, lastEpochStep_ = 0;
  std::optional<EpochSums> lastEpoch_;  // the last epoch trained (or resumed at its end)
  double seconds_ = 0;
};

// fit(config, onEvent, optimizer) -> [promise, jobId]
Napi::Value Fit(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<FitJob>(fitConfigFromJs(info));
  job->marks.mark(info.Env(), *job->config().step.model, job->config().step.optimizer.get());
  for (const auto& t : job->tensorsRead()) job->marks.markTensor(info.Env(), t);
  registerSnapshotRequests(job->config().step.model.get(), job->snapshotRequests);
  return submitJob(info.Env(), std::move(job), info[1]);
}

}  // namespace

void registerTraining(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "fit", Fit);
  train::registerSnapshotApi(env, exports);
}

}  // namespace skipnorm
