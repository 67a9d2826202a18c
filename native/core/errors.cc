#include "core/errors.h"

#include "core/addon.h"

namespace skipnorm {

namespace {
const char* g_opName = "skipnorm";  // JavaScript thread only
}

void setOpName(const char* name) { g_opName = name; }
const char* opName() { return g_opName; }

Napi::Error makeTorchError(Napi::Env env, const std::string& op, const std::string& detail) {
  Addon& addon = addonOf(env);
  if (addon.torchErrorClass.IsEmpty()) return Napi::Error::New(env, op + ": " + detail);
  Napi::Object error = addon.torchErrorClass.New({Napi::String::New(env, op), Napi::String::New(env, detail)});
  return Napi::Error(env, error);
}

Napi::Error makeAbortError(Napi::Env env, const std::string& op) {
  Addon& addon = addonOf(env);
  if (addon.abortErrorClass.IsEmpty()) return Napi::Error::New(env, op + ": aborted");
  Napi::Object error = addon.abortErrorClass.New({Napi::String::New(env, op)});
  return Napi::Error(env, error);
}

void throwTypeError(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, std::string(opName()) + ": " + message);
}

std::string currentExceptionMessage(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown C++ exception";
  }
}

void exportFunction(Napi::Env env, Napi::Object exports, const char* name,
                    Napi::Value (*fn)(const Napi::CallbackInfo&)) {
  exports.Set(name, Napi::Function::New(
                        env, [name, fn](const Napi::CallbackInfo& info) { return guarded(info, name, fn); }, name));
}

}  // namespace skipnorm
