// Each area of the tensor API exports its native functions through one of these.
#pragma once

#include <napi.h>

namespace skipnorm {
void registerCreation(Napi::Env env, Napi::Object exports);
void registerConvert(Napi::Env env, Napi::Object exports);
void registerOps(Napi::Env env, Napi::Object exports);
void registerShape(Napi::Env env, Napi::Object exports);
void registerAutograd(Napi::Env env, Napi::Object exports);
void registerLinalg(Napi::Env env, Napi::Object exports);
void registerFunctional(Napi::Env env, Napi::Object exports);
}  // namespace skipnorm
