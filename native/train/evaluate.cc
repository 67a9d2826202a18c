// evaluate: the data through the model in eval mode, without updates, as a job; the loss and the
// correct counts are summed on the device and read once at the end.
#include <c10/core/GradMode.h>
#include <napi.h>

#include "core/addon.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "core/options.h"
#include "nn/in_use.h"
#include "train/fit_config.h"
#include "train/loss.h"

namespace skipnorm {

namespace {

using namespace train;

class EvaluateJob : public Job {
 public:
  std::shared_ptr<nn::Layer> model;
  std::unique_ptr<BatchSource> data;
  LossOptions loss;

  EvaluateJob() : Job("evaluate") {}

  nn::InUseMarks marks;
  void settled() override { marks.release(); }

  void run(JobContext& ctx) override {
    data->cancelled = [&ctx] { return ctx.cancelled(); };
    c10::NoGradGuard noGrad;
    nn::ModeSnapshot modes(*model);  // eval mode for the pass, then each module's own mode back
    model->eval();
    at::Tensor lossSum, top1, top5;
    bool counted = true;
    for (int64_t b = 0; b < data->batchesPerEpoch(); ++b) {
      ctx.checkCancelled();
      auto [x, y] = data->batchAt(0, b);
      at::Tensor out = (*model)(x);
      const double n = static_cast<double>(x.size(0));
      at::Tensor l = computeLoss(loss, out.to(at::kFloat), y).to(at::kDouble).mul(n);
      lossSum = lossSum.defined() ? lossSum.add_(l) : l;
      counted = counted && isClassification(out, y);
      if (counted) {
        auto [c1, c5] = correctCounts(out, y);
        top1 = top1.defined() ? top1.add_(c1) : c1;
        top5 = top5.defined() ? top5.add_(c5) : c5;
      }
      seen_ += n;
    }
    if (lossSum.defined()) lossSum_ = lossSum.item<double>();
    top1_ = counted && top1.defined() ? top1.item<double>() : NAN;
    top5_ = counted && top5.defined() ? top5.item<double>() : NAN;
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

// evaluate(options) -> [promise, jobId]
Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throwTypeError(info.Env(), "expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_unique<EvaluateJob>();
  job->model = nn::moduleByHandle(o.Env(), numberOption(o, "model", -1), "model");
  job->data = dataFromJs(o, *job->model, true);
  job->loss = lossFromJs(o);
  // Evaluation switches the model to eval mode: no other call may touch it meanwhile.
  job->marks.mark(info.Env(), *job->model);
  for (const auto& t : job->data->tensors()) job->marks.markTensor(info.Env(), t);
  return submitJob(info.Env(), std::move(job), info.Env().Undefined());
}

}  // namespace

void registerEvaluate(Napi::Env env, Napi::Object exports) { exportFunction(env, exports, "evaluate", Evaluate); }

}  // namespace skipnorm
