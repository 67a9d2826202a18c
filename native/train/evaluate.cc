// evaluate: the data through the model in eval mode, without updates, as a job
// (train/evaluation.h).
#include <napi.h>

#include "core/addon.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "core/options.h"
#include "nn/in_use.h"
#include "train/fit_config.h"
#include "train/evaluation.h"

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
    totals_ = evaluateModel(*model, *data, loss, 0, [&ctx] { ctx.checkCancelled(); });
  }

  Napi::Value result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", Napi::Number::New(env, totals_.examples > 0 ? totals_.loss : NAN));
    out.Set("top1", Napi::Number::New(env, totals_.top1));
    out.Set("top5", Napi::Number::New(env, totals_.top5));
    out.Set("examples", Napi::Number::New(env, totals_.examples));
    return out;
  }

 private:
  EvaluationTotals totals_;
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
