// JavaScript bindings of the data layer: datasets and loaders live in the addon's tables by handle
// (as modules do); opening a dataset, statistics, packing and waiting for a batch are jobs.
#include <napi.h>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "core/options.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/stats.h"
#include "data/transforms.h"

namespace skipnorm {

namespace {

using data::Dataset;
using data::Loader;

std::shared_ptr<Dataset> datasetByHandle(Napi::Env env, double handle) {
  auto& table = addonOf(env).datasets;
  auto it = table.find(handle);
  if (it == table.end()) throw makeTorchError(env, opName(), "the dataset was disposed (use after dispose)");
  return it->second;
}

std::shared_ptr<Loader> loaderByHandle(Napi::Env env, double handle) {
  auto& table = addonOf(env).loaders;
  auto it = table.find(handle);
  if (it == table.end()) throw makeTorchError(env, opName(), "the data loader was disposed (use after dispose)");
  return it->second;
}

std::vector<double> numberListOption(const Napi::Object& o, const char* key, std::vector<double> fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsArray()) throwTypeError(o.Env(), std::string("option '") + key + "' must be an array of numbers");
  std::vector<double> out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    if (!a.Get(i).IsNumber()) throwTypeError(o.Env(), std::string("option '") + key + "' must be an array of numbers");
    out.push_back(a.Get(i).As<Napi::Number>().DoubleValue());
  }
  return out;
}

data::Pipeline pipelineArg(Napi::Env env, Napi::Value value) {
  data::Pipeline pipeline;
  if (value.IsUndefined() || value.IsNull()) return pipeline;
  if (!value.IsArray()) throwTypeError(env, "transforms must be an array");
  Napi::Array a = value.As<Napi::Array>();
  using K = data::TransformStep::Kind;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    if (!a.Get(i).IsObject()) throwTypeError(env, "each transform must be an object { kind, ... }");
    Napi::Object o = a.Get(i).As<Napi::Object>();
    const std::string kind = stringOption(o, "kind", "");
    data::TransformStep s{K::Normalize};
    s.size = intListOption(o, "size", {});
    auto checkSize = [&](size_t allowed) {
      TORCH_CHECK((s.size.size() == 2 || s.size.size() == allowed) && s.size[0] > 0 && s.size.back() > 0, kind, ": size must be positive [h, w]",
                  allowed == 1 ? " or a number" : "");
      if (s.size.size() == 1 && kind != "resize") s.size.push_back(s.size[0]);
    };
    if (kind == "randomResizedCrop") {
      s.kind = K::RandomResizedCrop;
      checkSize(1);
      const auto scale = numberListOption(o, "scale", {0.08, 1.0}), ratio = numberListOption(o, "ratio", {3.0 / 4.0, 4.0 / 3.0});
      TORCH_CHECK(scale.size() == 2 && scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1, "randomResizedCrop: scale must be [lo, hi] with 0 < lo <= hi <= 1");
      TORCH_CHECK(ratio.size() == 2 && ratio[0] > 0 && ratio[0] <= ratio[1], "randomResizedCrop: ratio must be [lo, hi] with 0 < lo <= hi");
      s.scale[0] = scale[0];
      s.scale[1] = scale[1];
      s.ratio[0] = ratio[0];
      s.ratio[1] = ratio[1];
    } else if (kind == "resize") {
      s.kind = K::Resize;
      checkSize(1);
    } else if (kind == "centerCrop") {
      s.kind = K::CenterCrop;
      checkSize(1);
    } else if (kind == "randomCrop") {
      s.kind = K::RandomCrop;
      checkSize(1);
      s.padding = intOption(o, "padding", 0);
      TORCH_CHECK(s.padding >= 0, "randomCrop: padding must be non-negative");
    } else if (kind == "horizontalFlip") {
      s.kind = K::HorizontalFlip;
      s.p = numberOption(o, "p", 0.5);
      TORCH_CHECK(s.p >= 0 && s.p <= 1, "horizontalFlip: p must be in [0, 1]");
    } else if (kind == "normalize") {
      s.mean = numberListOption(o, "mean", {});
      s.std = numberListOption(o, "std", {});
      TORCH_CHECK(!s.mean.empty() && (s.mean.size() == 1 || s.mean.size() == 3) && s.std.size() == s.mean.size(), "normalize: mean and std must be arrays of 1 or 3 numbers");
      for (double v : s.std) TORCH_CHECK(v > 0 && std::isfinite(v), "normalize: std must be positive");
      TORCH_CHECK(i + 1 == a.Length(), "normalize must be the last transform");
    } else {
      TORCH_CHECK(false, "unknown transform '", kind, "'");
    }
    pipeline.steps.push_back(s);
  }
  return pipeline;
}

Napi::Object describeDataset(Napi::Env env, double handle, const Dataset& d) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("handle", Napi::Number::New(env, handle));
  out.Set("size", Napi::Number::New(env, static_cast<double>(d.size())));
  out.Set("classes", Napi::Number::New(env, static_cast<double>(d.classes)));
  out.Set("format", Napi::String::New(env, d.format));
  Napi::Array names = Napi::Array::New(env, d.classNames.size());
  for (size_t i = 0; i < d.classNames.size(); ++i) names.Set(static_cast<uint32_t>(i), Napi::String::New(env, d.classNames[i]));
  out.Set("classNames", names);
  return out;
}

// A new handle for the dataset, and its description for JavaScript.
Napi::Object registerDataset(Napi::Env env, std::shared_ptr<Dataset> d) {
  Addon& a = addonOf(env);
  const double handle = a.nextModuleHandle++;
  a.datasets.emplace(handle, d);
  return describeDataset(env, handle, *d);
}

class OpenDatasetJob : public Job {
 public:
  std::string format, root;
  bool train = true, coarse = false, skipCorrupt = false;
  OpenDatasetJob() : Job("openDataset") {}
  void run(JobContext&) override {
    if (format == "mnist") dataset_ = data::openMnist(root, train);
    else if (format == "cifar10") dataset_ = data::openCifar10(root, train);
    else if (format == "cifar100") dataset_ = data::openCifar100(root, train, coarse);
    else if (format == "folder") dataset_ = data::openFolder(root, skipCorrupt);
    else if (format == "packed") dataset_ = data::openPacked(root);
    else TORCH_CHECK(false, "unknown dataset format '", format, "' (mnist, cifar10, cifar100, folder, packed)");
    dataset_->skipCorrupt = skipCorrupt;
  }
  Napi::Value result(Napi::Env env) override { return registerDataset(env, dataset_); }

 private:
  std::shared_ptr<Dataset> dataset_;
};

// openDataset({ format, root, train, coarse, skipCorrupt }) -> [promise, jobId]
Napi::Value OpenDataset(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throwTypeError(info.Env(), "expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_unique<OpenDatasetJob>();
  job->format = stringOption(o, "format", "");
  job->root = stringOption(o, "root", "");
  job->train = boolOption(o, "train", true);
  job->coarse = boolOption(o, "coarse", false);
  job->skipCorrupt = boolOption(o, "skipCorrupt", false);
  return submitJob(info.Env(), std::move(job), info.Env().Undefined());
}

// tensorDataset(images uint8 [N,H,W,C], labels [N], classes, format) -> description
Napi::Value TensorDatasetFromTensors(const Napi::CallbackInfo& info) {
  return registerDataset(info.Env(), std::make_shared<data::TensorDataset>(tensorArg(info, 0), tensorArg(info, 1), intArg(info, 2), stringArg(info, 3)));
}

// datasetExample(handle, index, transforms, seed, epoch) -> [image uint8 [H,W,C], label]
Napi::Value DatasetExample(const Napi::CallbackInfo& info) {
  auto d = datasetByHandle(info.Env(), numberArg(info, 0));
  const int64_t index = intArg(info, 1);
  TORCH_CHECK(index >= 0 && index < d->size(), "index ", index, " is out of range for a dataset of ", d->size());
  const data::Pipeline pipeline = pipelineArg(info.Env(), info[2]);
  data::Rng rng = data::exampleRng(static_cast<uint64_t>(intArg(info, 3)), intArg(info, 4), index);
  at::Tensor image;
  try {
    image = pipeline.applyUint8(*d, index, &rng).contiguous();
  } catch (const data::CorruptImage& e) {
    TORCH_CHECK(false, e.what());
  }
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, wrapTensor(info.Env(), image.clone()));
  out.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(d->label(index))));
  return out;
}

// datasetSubset(handle, indices int64 [M]) -> description
Napi::Value DatasetSubset(const Napi::CallbackInfo& info) {
  auto d = datasetByHandle(info.Env(), numberArg(info, 0));
  const at::Tensor idx = tensorArg(info, 1).to(at::kLong).contiguous();
  TORCH_CHECK(idx.dim() == 1, "subset: indices must be one-dimensional");
  return registerDataset(info.Env(), std::make_shared<data::SubsetDataset>(d, std::vector<int64_t>(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel())));
}

Napi::Value DatasetLabels(const Napi::CallbackInfo& info) {
  auto d = datasetByHandle(info.Env(), numberArg(info, 0));
  at::Tensor labels = at::empty({d->size()}, at::kLong);
  int64_t* out = labels.data_ptr<int64_t>();  // raw writes: a Tensor index per label is slow for ImageNet-sized sets
  for (int64_t i = 0; i < d->size(); ++i) out[i] = d->label(i);
  return wrapTensor(info.Env(), labels);
}

Napi::Value DisposeDataset(const Napi::CallbackInfo& info) {
  addonOf(info.Env()).datasets.erase(numberArg(info, 0));
  return info.Env().Undefined();
}

class StatsJob : public Job {
 public:
  std::shared_ptr<Dataset> dataset;
  int threads = 2;
  StatsJob() : Job("datasetStats") {}
  void run(JobContext& ctx) override {
    stats_ = data::computeStats(*dataset, threads, ctx);
  }
  Napi::Value result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("count", Napi::Number::New(env, static_cast<double>(stats_.count)));
    out.Set("classes", Napi::Number::New(env, static_cast<double>(dataset->classes)));
    out.Set("skipped", Napi::Number::New(env, static_cast<double>(stats_.skipped)));
    auto list = [&](const auto& v) {
      Napi::Array a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
      return a;
    };
    out.Set("perClass", list(stats_.perClass));
    out.Set("mean", list(stats_.mean));
    out.Set("std", list(stats_.std));
    return out;
  }

 private:
  data::DatasetStats stats_;
};

// datasetStats(handle, threads, onProgress) -> [promise, jobId]
Napi::Value DatasetStats(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<StatsJob>();
  job->dataset = datasetByHandle(info.Env(), numberArg(info, 0));
  job->threads = static_cast<int>(intArg(info, 1));
  TORCH_CHECK(job->threads >= 1 && job->threads <= 256, "threads must be in 1..256");
  return submitJob(info.Env(), std::move(job), info[2]);
}

class PackJob : public Job {
 public:
  std::shared_ptr<Dataset> dataset;
  std::string file;
  int64_t height = 0, width = 0;
  int threads = 2;
  PackJob() : Job("pack") {}
  void run(JobContext& ctx) override {
    skipped_ = data::writePacked(*dataset, file, height, width, threads, ctx);
  }
  Napi::Value result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("count", Napi::Number::New(env, static_cast<double>(dataset->size() - skipped_)));
    out.Set("skipped", Napi::Number::New(env, static_cast<double>(skipped_)));
    return out;
  }

 private:
  int64_t skipped_ = 0;
};

// packDataset(handle, file, height, width, threads, onProgress) -> [promise, jobId]
Napi::Value PackDataset(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<PackJob>();
  job->dataset = datasetByHandle(info.Env(), numberArg(info, 0));
  job->file = stringArg(info, 1);
  job->height = intArg(info, 2);
  job->width = intArg(info, 3);
  job->threads = static_cast<int>(intArg(info, 4));
  TORCH_CHECK(job->threads >= 1 && job->threads <= 256, "threads must be in 1..256");
  TORCH_CHECK(job->dataset->size() > 0, "pack: the dataset is empty");
  return submitJob(info.Env(), std::move(job), info[5]);
}

// createLoader(datasetHandle, transforms, { batchSize, shuffle, dropLast, seed, rank, worldSize, threads, prefetch, channelsLast })
Napi::Value CreateLoader(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = datasetByHandle(env, numberArg(info, 0));
  data::Pipeline pipeline = pipelineArg(env, info[1]);
  if (!info[2].IsObject()) throwTypeError(env, "expected loader options");
  Napi::Object o = info[2].As<Napi::Object>();
  data::LoaderOptions opts;
  opts.batchSize = intOption(o, "batchSize");
  opts.shuffle = boolOption(o, "shuffle", true);
  opts.dropLast = boolOption(o, "dropLast", false);
  opts.channelsLast = boolOption(o, "channelsLast", false);
  opts.uint8 = stringOption(o, "output", "float") == "uint8";
  TORCH_CHECK(opts.uint8 || stringOption(o, "output", "float") == "float", "output must be 'float' or 'uint8'");
  opts.pinMemory = boolOption(o, "pinMemory", false);
  opts.seed = static_cast<uint64_t>(intOption(o, "seed", 0));
  opts.rank = intOption(o, "rank", 0);
  opts.worldSize = intOption(o, "worldSize", 1);
  opts.threads = static_cast<int>(intOption(o, "threads", 2));
  opts.prefetch = intOption(o, "prefetch", 2);
  auto loader = std::make_shared<Loader>(d, std::move(pipeline), opts);
  Addon& a = addonOf(env);
  const double handle = a.nextModuleHandle++;
  a.loaders.emplace(handle, loader);
  Napi::Object out = Napi::Object::New(env);
  out.Set("handle", Napi::Number::New(env, handle));
  out.Set("batchesPerEpoch", Napi::Number::New(env, static_cast<double>(loader->batchesPerEpoch())));
  out.Set("examplesPerEpoch", Napi::Number::New(env, static_cast<double>(loader->examplesPerEpoch())));
  return out;
}

class LoaderBatchJob : public Job {
 public:
  std::shared_ptr<Loader> loader;
  int64_t epoch = 0, index = 0;
  LoaderBatchJob() : Job("loaderBatch") {}
  void run(JobContext& ctx) override {
    batch_ = loader->batch(epoch, index, [&ctx] { return ctx.cancelled(); });
  }
  Napi::Value result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("input", wrapTensor(env, batch_.input));
    out.Set("labels", wrapTensor(env, batch_.labels));
    out.Set("skipped", Napi::Number::New(env, static_cast<double>(batch_.skipped)));
    return out;
  }

 private:
  data::Batch batch_;
};

// loaderBatch(handle, epoch, index) -> [promise, jobId]
Napi::Value LoaderBatch(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<LoaderBatchJob>();
  job->loader = loaderByHandle(info.Env(), numberArg(info, 0));
  job->epoch = intArg(info, 1);
  job->index = intArg(info, 2);
  return submitJob(info.Env(), std::move(job), info.Env().Undefined());
}

Napi::Value LoaderSkipped(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(loaderByHandle(info.Env(), numberArg(info, 0))->skipped()));
}

Napi::Value DisposeLoader(const Napi::CallbackInfo& info) {
  addonOf(info.Env()).loaders.erase(numberArg(info, 0));
  return info.Env().Undefined();
}

}  // namespace

std::shared_ptr<data::Loader> loaderFromHandle(Napi::Env env, double handle) { return loaderByHandle(env, handle); }

void registerData(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "openDataset", OpenDataset);
  exportFunction(env, exports, "tensorDataset", TensorDatasetFromTensors);
  exportFunction(env, exports, "datasetExample", DatasetExample);
  exportFunction(env, exports, "datasetLabels", DatasetLabels);
  exportFunction(env, exports, "datasetSubset", DatasetSubset);
  exportFunction(env, exports, "disposeDataset", DisposeDataset);
  exportFunction(env, exports, "datasetStats", DatasetStats);
  exportFunction(env, exports, "packDataset", PackDataset);
  exportFunction(env, exports, "createLoader", CreateLoader);
  exportFunction(env, exports, "loaderBatch", LoaderBatch);
  exportFunction(env, exports, "loaderSkipped", LoaderSkipped);
  exportFunction(env, exports, "disposeLoader", DisposeLoader);
}

}  // namespace skipnorm
