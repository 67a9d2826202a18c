#include "nn/layer.h"

namespace skipnorm::nn {

namespace {
thread_local ShapeRecorder* t_recorder = nullptr;
}

ShapeRecorder::ShapeRecorder() : previous_(t_recorder) { t_recorder = this; }
ShapeRecorder::~ShapeRecorder() { t_recorder = previous_; }

void ShapeRecorder::record(const Layer* layer, const at::Tensor& input, const at::Tensor& output) {
  if (t_recorder == nullptr) return;
  t_recorder->records_.emplace_back(layer, output.sizes().vec());
  t_recorder->inputs_.emplace_back(layer, input.sizes().vec());
}

at::Tensor Layer::operator()(const at::Tensor& x) {
  at::Tensor out = forward(x);
  ShapeRecorder::record(this, x, out);
  return out;
}

at::Tensor runAll(const NamedLayers& layers, at::Tensor x) {
  for (const auto& [name, layer] : layers) x = (*layer)(x);
  return x;
}

}  // namespace skipnorm::nn
