#include "nn/layer.h"

#include "nn/fused_batch_norm.h"

#include <c10/core/GradMode.h>

#include <algorithm>

namespace skipnorm::nn {

namespace {
thread_local ShapeRecorder* t_recorder = nullptr;
thread_local OutputHook* t_outputHook = nullptr;
}

ShapeRecorder::ShapeRecorder() : previous_(t_recorder) { t_recorder = this; }
ShapeRecorder::~ShapeRecorder() { t_recorder = previous_; }

void ShapeRecorder::record(const Layer* layer, const at::Tensor& input, const at::Tensor& output) {
  if (t_recorder == nullptr) return;
  t_recorder->records_.emplace_back(layer, output.sizes().vec());
  t_recorder->inputs_.emplace_back(layer, input.sizes().vec());
}

bool ShapeRecorder::installed() { return t_recorder != nullptr; }

OutputHook::OutputHook(Visit visit) : visit_(std::move(visit)), previous_(t_outputHook) { t_outputHook = this; }
OutputHook::~OutputHook() { t_outputHook = previous_; }

bool OutputHook::installed() { return t_outputHook != nullptr; }

at::Tensor OutputHook::apply(const Layer& layer, at::Tensor output) {
  return t_outputHook == nullptr ? output : t_outputHook->visit_(layer, output);
}

at::Tensor Layer::operator()(const at::Tensor& x) {
  at::Tensor out = forward(x);
  ShapeRecorder::record(this, x, out);
  return OutputHook::apply(*this, std::move(out));
}

at::Tensor runAll(const NamedLayers& layers, at::Tensor x, size_t begin, size_t end) {
  end = std::min(end, layers.size());
  for (size_t i = begin; i < end; ++i) {
    if (i + 1 < end) {
      if (at::Tensor fused = fuseNormReLU(*layers[i].second, *layers[i + 1].second, x, at::Tensor()); fused.defined()) {
        x = std::move(fused);
        ++i;
        continue;
      }
    }
    x = (*layers[i].second)(x);
  }
  return x;
}

ModeSnapshot::ModeSnapshot(torch::nn::Module& root) {
  modes_.emplace_back(&root, root.is_training());
  for (const auto& m : root.modules(/*include_self=*/false)) modes_.emplace_back(m.get(), m->is_training());
}

ModeSnapshot::~ModeSnapshot() {
  for (auto& [m, training] : modes_) m->train(training);
}

BufferSnapshot::BufferSnapshot(torch::nn::Module& root) {
  for (auto& b : root.buffers(true)) saved_.emplace_back(b, b.detach().clone());
}

BufferSnapshot::~BufferSnapshot() {
  // Copied back into the buffers' own memory, not swapped for the copies: a captured CUDA graph
  // (fit's cudaGraph) keeps addresses, and would otherwise go on updating memory nobody reads.
  c10::NoGradGuard noGrad;
  for (auto& [b, saved] : saved_) b.copy_(saved);
}

}  // namespace skipnorm::nn
