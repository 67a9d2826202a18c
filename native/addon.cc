// The addon's entry point: creates the per-environment state and registers every area.
#include <napi.h>
#include <torch/headeronly/version.h>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "tensor/register.h"
#include "train/optim_api.h"

namespace skipnorm {

void registerInfo(Napi::Env env, Napi::Object exports);
void registerModules(Napi::Env env, Napi::Object exports);
void registerGraphs(Napi::Env env, Napi::Object exports);
void registerSpectra(Napi::Env env, Napi::Object exports);
void registerData(Napi::Env env, Napi::Object exports);
void registerDistributed(Napi::Env env, Napi::Object exports);
void registerSafetensors(Napi::Env env, Napi::Object exports);
void registerSchedules(Napi::Env env, Napi::Object exports);
void registerEvaluate(Napi::Env env, Napi::Object exports);

namespace {

// setErrorClasses(TorchError, AbortError): the classes native code throws (src/core/errors.ts).
Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
  Addon& addon = addonOf(info.Env());
  if (!info[0].IsFunction() || !info[1].IsFunction()) throwTypeError(info.Env(), "expected two error classes");
  addon.torchErrorClass = Napi::Persistent(info[0].As<Napi::Function>());
  addon.abortErrorClass = Napi::Persistent(info[1].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<Addon>(new Addon());
  exportFunction(env, exports, "setErrorClasses", SetErrorClasses);
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  registerJobs(env, exports);
  registerInfo(env, exports);
  registerCreation(env, exports);
  registerConvert(env, exports);
  registerOps(env, exports);
  registerShape(env, exports);
  registerAutograd(env, exports);
  registerLinalg(env, exports);
  registerFunctional(env, exports);
  registerModules(env, exports);
  registerGraphs(env, exports);
  registerOptimizers(env, exports);
  registerTraining(env, exports);
  registerEvaluate(env, exports);
  registerSchedules(env, exports);
  registerSpectra(env, exports);
  registerData(env, exports);
  registerDistributed(env, exports);
  registerSafetensors(env, exports);
  return exports;
}

}  // namespace
}  // namespace skipnorm

static Napi::Object InitSkipnorm(Napi::Env env, Napi::Object exports) { return skipnorm::Init(env, exports); }
NODE_API_MODULE(skipnorm, InitSkipnorm)
