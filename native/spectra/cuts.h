// Cut points of a model for the Jacobian probe (spectra/jacobian.cc). A cut is any module of the
// model, named by its dotted path (as named_modules gives it, e.g. `layer2.1.bn2`); the probe takes
// the Jacobian of the model's output with respect to that module's output. Layer-wise
// measurements enumerate cut points from one probe pass.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/layer.h"

namespace skipnorm {

// The layer a dotted module name names inside `model` (never the model itself), or an error.
std::shared_ptr<nn::Layer> layerNamed(nn::Layer& model, const std::string& name);

struct CutRuns {
  int64_t calls = 0;    // calls in the probe pass
  bool output = false;  // its output is the model's output: nothing comes after it
  int64_t order = -1;   // when its first call returned, in the order of all calls (-1: never)
};

struct CutProbe {
  // The layer-wise cut points, in the order their calls returned: (name, order).
  std::vector<std::pair<std::string, int64_t>> points;
  std::vector<CutRuns> asked;  // per asked name
};

// One forward pass of `input` in eval mode without gradients (modes and buffers restored after)
// that records which layers run, how often and in which order. The cut points: the model's
// children, where a child that is a container (Layer::isContainer) within `depth` levels of the
// model stands for its own children (and for itself too, when its output is computed after them,
// as a traced graph's may be); holders named ModuleList or ModuleDict, never called themselves,
// are looked inside without counting a level. Left out: layers that do not run exactly once, and
// those whose output is the model's output.
CutProbe probeCuts(nn::Layer& model, const at::Tensor& input, int64_t depth, const std::vector<std::string>& asked);

}  // namespace skipnorm
