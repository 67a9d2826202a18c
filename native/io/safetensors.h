// Safetensors files: the 8-byte header length, the JSON header (names to { dtype, shape,
// data_offsets }, and `__metadata__`), then the raw little-endian bytes. Read in safetensors.cc,
// written in safetensors_write.cc (by the JavaScript API and by training jobs' checkpoints).
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

namespace skipnorm::io {

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
};
inline constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
    {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},       {"BOOL", at::kBool},
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;
using Metadata = std::vector<std::pair<std::string, std::string>>;

// Writes the tensors (in name order; each copied to the CPU when it is elsewhere) and the metadata
// atomically (io/atomic_file.h): the file is whole or absent. Errors name `op`.
void writeSafetensorsFile(const std::string& file, NamedTensors tensors, const Metadata& metadata, const std::string& op);

// writeSafetensors(file, names, tensors, metadata: [[key, value]]) for src/io/safetensors.ts.
Napi::Value WriteSafetensors(const Napi::CallbackInfo& info);

}  // namespace skipnorm::io
