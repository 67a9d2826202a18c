// Writing safetensors files (io/safetensors.h): the header as Python's safetensors writes it
// (`__metadata__` first, then the tensors in name order, padded with spaces so that the data
// starts 8-byte aligned), then each tensor's bytes straight from its storage.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/args.h"
#include "core/errors.h"
#include "core/json.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"

namespace skipnorm::io {

namespace {

const char* formatOf(at::ScalarType type, const std::string& name, const std::string& op) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  TORCH_CHECK(false, op, ": '", name, "' has dtype ", dtypeName(type), ", which safetensors cannot store");
}

}  // namespace

void writeSafetensorsFile(const std::string& file, NamedTensors tensors, const Metadata& metadata, const std::string& op) {
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); ++i) {
      if (i > 0) header += ',';
      json::appendString(header, metadata[i].first);
      header += ':';
      json::appendString(header, metadata[i].second);
    }
    header += '}';
  }
  int64_t offset = 0;
  for (auto& [name, t] : tensors) {
    TORCH_CHECK(name != "__metadata__", op, ": '__metadata__' is reserved");
    const char* format = formatOf(t.scalar_type(), name, op);
    t = t.to(at::kCPU).contiguous();
    const int64_t bytes = static_cast<int64_t>(t.nbytes());
    if (header.size() > 1) header += ',';
    json::appendString(header, name);
    header += ":{\"dtype\":\"";
    header += format;
    header += "\",\"shape\":[";
    for (int64_t d = 0; d < t.dim(); ++d) {
      if (d > 0) header += ',';
      json::appendInt(header, t.size(d));
    }
    header += "],\"data_offsets\":[";
    json::appendInt(header, offset);
    header += ',';
    json::appendInt(header, offset + bytes);
    header += "]}";
    offset += bytes;
  }
  header += '}';
  header.append((8 - (8 + header.size()) % 8) % 8, ' ');  // the data starts 8-byte aligned
  const uint64_t length = header.size();                   // little-endian, as x86 and ARM Linux are
  AtomicFile f(file, op);
  f.write(&length, sizeof length);
  f.write(header.data(), header.size());
  for (const auto& entry : tensors) {
    const at::Tensor& t = entry.second;
    if (t.nbytes() > 0) f.write(t.const_data_ptr(), t.nbytes());
  }
  f.commit();
}

Napi::Value WriteSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string file = stringArg(info, 0);
  if (!info[1].IsArray() || !info[2].IsArray() || !info[3].IsArray()) throwTypeError(env, "writeSafetensors: expected names, tensors and metadata arrays");
  Napi::Array names = info[1].As<Napi::Array>();
  const std::vector<at::Tensor> list = tensorListArg(info, 2);
  TORCH_CHECK(list.size() == names.Length(), "writeSafetensors: ", names.Length(), " names for ", list.size(), " tensors");
  NamedTensors tensors;
  for (uint32_t i = 0; i < names.Length(); ++i) tensors.emplace_back(names.Get(i).As<Napi::String>().Utf8Value(), list[i]);
  Metadata metadata;
  Napi::Array pairs = info[3].As<Napi::Array>();
  for (uint32_t i = 0; i < pairs.Length(); ++i) {
    Napi::Array pair = pairs.Get(i).As<Napi::Array>();
    metadata.emplace_back(pair.Get(0u).As<Napi::String>().Utf8Value(), pair.Get(1u).As<Napi::String>().Utf8Value());
  }
  writeSafetensorsFile(file, std::move(tensors), metadata, "writeSafetensors");
  return env.Undefined();
}

}  // namespace skipnorm::io
