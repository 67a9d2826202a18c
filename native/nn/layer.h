// The native module system. Every skipnorm layer is a torch::nn::Module (so parameters, buffers,
// submodules, train/eval and to() work as in LibTorch's C++ frontend, with PyTorch's dotted
// names) that maps one tensor to one tensor. A whole model therefore runs in C++, in one call
// from JavaScript here, or on a training thread later, without calling back into JavaScript.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace skipnorm::nn {

class Layer : public torch::nn::Module {
 public:
  explicit Layer(const std::string& kind) : torch::nn::Module(kind) {}
  // Runs forward, recording the output shape when a summary is being taken.
  at::Tensor operator()(const at::Tensor& x);
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  const std::string& kind() const { return name(); }
  // One line of constructor arguments for summaries, e.g. "5 -> 20, kernel 3x3, stride 2".
  virtual std::string describe() const { return ""; }
  // Whether the layer only composes its children (Sequential, a traced graph), so that layer-wise
  // measurements look inside it for cut points (spectra/cuts.h); a block such as Residual does not.
  virtual bool isContainer() const { return false; }
};

using LayerPtr = std::shared_ptr<Layer>;
using NamedLayers = std::vector<std::pair<std::string, LayerPtr>>;

// Records (layer, output shape) for every layer called while it is installed on this thread.
class ShapeRecorder {
 public:
  ShapeRecorder();
  ~ShapeRecorder();
  ShapeRecorder(const ShapeRecorder&) = delete;
  ShapeRecorder& operator=(const ShapeRecorder&) = delete;
  const std::vector<std::pair<const Layer*, std::vector<int64_t>>>& records() const { return records_; }
  // The input shape of each layer's first call.
  const std::vector<std::pair<const Layer*, std::vector<int64_t>>>& inputs() const { return inputs_; }
  static void record(const Layer* layer, const at::Tensor& input, const at::Tensor& output);
  static bool installed();

 private:
  std::vector<std::pair<const Layer*, std::vector<int64_t>>> records_, inputs_;
  ShapeRecorder* previous_;
};

// While installed on this thread, every layer's output passes through `visit` before the layer
// returns it, and what `visit` returns goes on in its place: the Jacobian probe makes a cut's output
// a free variable this way, wherever the cut sits in the model, and its probe pass records which
// layers run. The innermost installed hook sees the calls.
class OutputHook {
 public:
  using Visit = std::function<at::Tensor(const Layer& layer, const at::Tensor& output)>;
  explicit OutputHook(Visit visit);
  ~OutputHook();
  OutputHook(const OutputHook&) = delete;
  OutputHook& operator=(const OutputHook&) = delete;
  static at::Tensor apply(const Layer& layer, at::Tensor output);
  static bool installed();

 private:
  Visit visit_;
  OutputHook* previous_;
};

// Runs a list of named layers in order (those from `begin` up to `end`), a BatchNorm2d followed by
// a ReLU as one fused operation where it applies (nn/fused_batch_norm.h).
at::Tensor runAll(const NamedLayers& layers, at::Tensor x, size_t begin = 0, size_t end = static_cast<size_t>(-1));

// The train/eval mode of a module and of everything inside it, put back when this goes out of
// scope (measurements switch modes; a model's parts may have modes of their own).
class ModeSnapshot {
 public:
  explicit ModeSnapshot(torch::nn::Module& root);
  ~ModeSnapshot();
  ModeSnapshot(const ModeSnapshot&) = delete;
  ModeSnapshot& operator=(const ModeSnapshot&) = delete;

 private:
  std::vector<std::pair<torch::nn::Module*, bool>> modes_;  // root first: children restored after
};

// Copies of a module's buffers (running statistics), put back when this goes out of scope.
class BufferSnapshot {
 public:
  explicit BufferSnapshot(torch::nn::Module& root);
  ~BufferSnapshot();
  BufferSnapshot(const BufferSnapshot&) = delete;
  BufferSnapshot& operator=(const BufferSnapshot&) = delete;

 private:
  std::vector<std::pair<at::Tensor, at::Tensor>> saved_;
};

}  // namespace skipnorm::nn
