// Exception discipline: every native entry point runs inside `guarded`, which turns LibTorch's
// c10::Error (without its C++ backtrace) and any std::exception into a JavaScript TorchError
// naming the operation. Nothing thrown in C++ ever reaches Node.js as a crash.
#pragma once

#include <napi.h>

#include <string>

namespace skipnorm {

// The operation named in errors raised by the current entry point. Entry points that dispatch
// by an op code (unary, binary, ...) rename themselves with setOpName().
void setOpName(const char* name);
const char* opName();

Napi::Error makeTorchError(Napi::Env env, const std::string& op, const std::string& detail);
Napi::Error makeAbortError(Napi::Env env, const std::string& op);
[[noreturn]] void throwTypeError(Napi::Env env, const std::string& message);

// Thrown inside jobs when they notice cancellation; becomes an AbortError in JavaScript.
struct JobCancelled : std::exception {
  const char* what() const noexcept override { return "cancelled"; }
};

// Runs fn (a Napi::Value(const Napi::CallbackInfo&) callable) and converts C++ errors.
template <typename Fn>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* op, Fn&& fn);

// Exports a guarded native function under `name`.
void exportFunction(Napi::Env env, Napi::Object exports, const char* name,
                    Napi::Value (*fn)(const Napi::CallbackInfo&));

// The message of the exception being handled, without LibTorch's backtrace.
std::string currentExceptionMessage(std::exception_ptr error);

}  // namespace skipnorm

#include "core/errors_impl.h"
