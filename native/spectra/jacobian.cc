// The paper's measurement (docs/paper.md, section 2): the singular values of the Jacobian of the network
// after a cut point with respect to the cut's output, over a whole batch, with batch norm in train
// mode by default (samples coupled through the batch statistics, as gradient descent sees them;
// running statistics are restored afterwards). The cut is any module (spectra/cuts.h): its output
// becomes a free variable, and everything that does not depend on it (a skip connection around
// it) is a constant. Exact: the rows of J (one vector-Jacobian product
// per output entry, N*K of them: one per backward pass, or many per pass through stacked copies
// of the batch, the GPU default) and the eigenvalues of the smaller Gram matrix, J Jᵀ or JᵀJ, in
// float64. Cost: N*K row products through the layers after the cut, plus an m x m eigensolve
// with m = min(N*K, N*F). Runs as a job; the model is off limits to JavaScript meanwhile.
#include <c10/core/CachingDeviceAllocator.h>
#include <c10/core/GradMode.h>
#include <napi.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "core/addon.h"
#include "core/args.h"
#include "core/cuda_graph.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "distributed/sync_batch_norm.h"
#include "nn/fused_batch_norm.h"
#include "nn/in_use.h"
#include "nn/layers.h"
#include "nn/replicas.h"
#include "spectra/cuts.h"
#include "spectra/jacobian.h"

namespace skipnorm {

namespace {

constexpr int64_t kMaxExactGram = 20000;
// The GPU memory the batched rows' copies may take (their activations included), at most half
// of what the device has available.
constexpr int64_t kCopiesBudget = int64_t{1} << 30;

constexpr auto kAllPools = static_cast<size_t>(c10::CachingDeviceAllocator::StatType::AGGREGATE);

// The caching allocator's current bytes on a CUDA device (0 elsewhere): what a forward pass keeps.
int64_t allocatedBytesOn(const at::Device& device) {
  if (!device.is_cuda()) return 0;
  return at::getDeviceAllocator(at::kCUDA)->getDeviceStats(device.index()).allocated_bytes[kAllPools].current;
}

// What a CUDA device can still give: the driver's free memory plus what the caching allocator
// holds unused.
int64_t availableBytesOn(const at::Device& device) {
  auto* allocator = at::getDeviceAllocator(at::kCUDA);
  const auto stats = allocator->getDeviceStats(device.index());
  const auto driverFree = static_cast<int64_t>(allocator->getMemoryInfo(device.index()).first);
  return driverFree + stats.reserved_bytes[kAllPools].current - stats.allocated_bytes[kAllPools].current;
}

// Singular values, descending, from a Gram matrix (J Jᵀ, JᵀJ, or Lanczos' tridiagonal of one):
// the square roots of its eigenvalues, rounding's small negatives taken as zero.
at::Tensor singularValuesOfGram(const at::Tensor& gram) {
  return std::get<0>(at::linalg_eigvalsh(gram).clamp_min(0).sqrt().sort(0, /*descending=*/true));
}

// Lanczos with full reorthogonalisation on J Jᵀ (rows <= cols) or JᵀJ: the Ritz values of the
// tridiagonal matrix approximate the Gram's eigenvalues, the extremes first. With `steps` equal
// to the operator's size the result is the exact spectrum (in exact arithmetic).
at::Tensor lanczos(JobContext* ctx, const at::Tensor& y, const at::Tensor& z, int64_t steps) {
  const int64_t rows = y.numel(), cols = z.numel();
  const bool left = rows <= cols;  // operate on R^rows with J Jᵀ
  const int64_t n = left ? rows : cols;
  steps = std::min(steps, n);
  // w = Jᵀ v as a function of v, kept differentiable in v, so that J u = d<w, u>/dv.
  at::Tensor vDummy = at::zeros_like(y).requires_grad_(true);
  at::Tensor jtv = torch::autograd::grad({y}, {z}, {vDummy}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  auto jt = [&](const at::Tensor& v) {  // Jᵀ v, v in R^rows
    return torch::autograd::grad({y}, {z}, {v.reshape(y.sizes()).to(y.scalar_type())}, true)[0].reshape({-1}).to(at::kDouble);
  };
  auto j = [&](const at::Tensor& u) {  // J u, u in R^cols
    return torch::autograd::grad({jtv}, {vDummy}, {u.reshape(z.sizes()).to(z.scalar_type())}, true)[0].reshape({-1}).to(at::kDouble);
  };
  auto apply = [&](const at::Tensor& x) { return left ? j(jt(x)) : jt(j(x)); };
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
  at::Tensor q = at::randn({n}, gen, at::TensorOptions().dtype(at::kDouble));
  q = q / q.norm();
  std::vector<at::Tensor> basis{q};
  std::vector<double> alpha, beta;
  for (int64_t i = 0; i < steps; ++i) {
    if (ctx) ctx->checkCancelled();
    at::Tensor w = apply(basis.back());
    alpha.push_back(w.dot(basis.back()).item<double>());
    for (int pass = 0; pass < 2; ++pass) {  // full reorthogonalisation, twice for stability
      for (const auto& b : basis) w = w - b * w.dot(b);
    }
    const double norm = w.norm().item<double>();
    if (i + 1 == steps || norm < 1e-12) break;
    beta.push_back(norm);
    basis.push_back(w / norm);
  }
  const int64_t m = static_cast<int64_t>(alpha.size());
  at::Tensor t = at::zeros({m, m}, at::TensorOptions().dtype(at::kDouble));
  for (int64_t i = 0; i < m; ++i) {
    t[i][i] = alpha[i];
    if (i + 1 < m) t[i][i + 1] = t[i + 1][i] = beta[i];
  }
  return singularValuesOfGram(t);
}

// Progress each time the rows done pass a multiple of 64, and at the end.
void reportRows(JobContext* ctx, const JacobianRequest& request, int64_t done, int64_t total, int64_t justDone) {
  if (ctx && request.reportProgress && ((done - justDone) / 64 != done / 64 || done == total))
    ctx->progress({{"rows", static_cast<double>(done)}, {"totalRows", static_cast<double>(total)}});
}

// One vector-Jacobian product per row, with the row index kept on the device and advanced by the
// row itself, so that with a CUDA graph a row is one graph launch. Row 0 always runs eagerly (with
// a graph, it warms up the autograd engine's device thread and the libraries' handles first).
void jacobianByRows(JobContext* ctx, const JacobianRequest& request, const at::Tensor& y, const at::Tensor& z, CudaGraph* graph, at::Tensor& jacobian) {
  const int64_t rows = jacobian.size(0);
  at::Tensor cotangent = at::zeros_like(y);
  at::Tensor flat = cotangent.view({-1});
  at::Tensor row = at::zeros({1}, y.options().dtype(at::kLong));
  auto nextRow = [&] {
    flat.zero_();
    flat.index_fill_(0, row, 1);
    at::Tensor g = torch::autograd::grad({y}, {z}, {cotangent}, /*retain_graph=*/true)[0];
    jacobian.index_copy_(0, row, g.reshape({1, -1}));
    row.add_(1);
  };
  if (ctx) ctx->checkCancelled();
  nextRow();
  if (graph) graph->capture(nextRow);
  for (int64_t r = 1; r < rows; ++r) {
    if (ctx) ctx->checkCancelled();
    if (graph) graph->replay();
    else nextRow();
    reportRows(ctx, request, r + 1, rows, 1);
  }
}

// The model's output from k copies of the cut's output stacked along the batch (`stacked`).
using CopiesForward = std::function<at::Tensor(const at::Tensor& stacked, int64_t copies)>;

// `copies` rows per pass: the model after the cut runs once on that many copies of the cut's
// output stacked along the batch (batch norm giving each copy its own statistics: nn/replicas.h),
// and one backward pass with one one-hot cotangent per copy gives that many rows. Fewer, larger
// kernels than a pass per row: what a GPU wants.
void jacobianByCopies(JobContext* ctx, const JacobianRequest& request, const CopiesForward& forward, const at::Tensor& z, int64_t copies, at::Tensor& jacobian) {
  const int64_t rows = jacobian.size(0), cols = jacobian.size(1);
  std::vector<int64_t> tile(static_cast<size_t>(z.dim()), 1);
  for (int64_t start = 0; start < rows;) {
    if (ctx) ctx->checkCancelled();
    const int64_t k = std::min(copies, rows - start);
    try {
      tile[0] = k;
      at::Tensor stacked = z.repeat(tile).requires_grad_(true);
      at::Tensor y;
      {
        nn::ReplicaScope scope(k);
        y = forward(stacked, k);
      }
      // Copy i selects row start + i of its own output.
      at::Tensor cotangent = at::zeros({k, rows}, y.options());
      cotangent.narrow(1, start, k).fill_diagonal_(1);
      at::Tensor g = torch::autograd::grad({y}, {stacked}, {cotangent.view(y.sizes())})[0];
      jacobian.narrow(0, start, k).copy_(g.reshape({k, cols}));
    } catch (const c10::OutOfMemoryError&) {
      // The memory estimate fell short: half as many copies, from an emptied cache.
      if (k == 1) throw;
      copies = k / 2;
      if (z.is_cuda()) at::getDeviceAllocator(at::kCUDA)->emptyCache();
      continue;
    }
    start += k;
    reportRows(ctx, request, start, rows, k);
  }
}

// Whether rows must all come from the one forward pass the probe made: dropout in training draws
// a mask there that every row has to share, and synchronised batch norm all-reduces, which every
// rank must do alike. `rerun`: what the batched rows run again (the layers after a top-level cut,
// else the whole model).
bool rowsShareOneForward(const std::vector<const torch::nn::Module*>& rerun) {
  if (distributed::syncBatchNormActive()) return true;
  auto activeDropout = [](const torch::nn::Module* m) {
    const auto* dropout = dynamic_cast<const nn::Dropout*>(m);
    return dropout && dropout->is_training() && dropout->p() > 0;
  };
  for (const auto* root : rerun) {
    if (activeDropout(root)) return true;
    for (const auto& m : root->modules(/*include_self=*/false)) {
      if (activeDropout(m.get())) return true;
    }
  }
  return false;
}

// A cut must run exactly once in a forward pass: its output is then one well-defined variable.
void checkRunsOnce(const std::string& cut, int64_t calls) {
  TORCH_CHECK(calls != 0, "the cut '", cut, "' never runs in a forward pass of this model on this input (a path its block does not use?): choose a module that runs");
  TORCH_CHECK(calls == 1, "the cut '", cut, "' runs ", calls, " times in one forward pass (a module used more than once, as shared weights are): a cut must run once");
}

// One forward pass of the whole model in which the cut's output is replaced by what `replace`
// makes of it. Only what follows the cut records a graph: everything before it, and everything
// that does not depend on it, is a constant of the Jacobian.
at::Tensor forwardWithCut(nn::Layer& model, const at::Tensor& input, const nn::Layer& cut, const std::string& name,
                          const std::function<at::Tensor(const at::Tensor&)>& replace) {
  int64_t calls = 0;
  nn::OutputHook hook([&](const nn::Layer& layer, const at::Tensor& out) {
    if (&layer != &cut || ++calls > 1) return out;
    at::Tensor replaced = replace(out);
    c10::GradMode::set_enabled(true);  // until the pass ends (the guard below restores the mode)
    return replaced;
  });
  at::Tensor y;
  {
    c10::NoGradGuard noGrad;
    y = model(input);
  }
  checkRunsOnce(name, calls);
  return y;
}

// Rows per pass: as asked, else one on the CPU (per-pass overhead is small there and a large
// batch of few-channel convolutions uses the vector units no better), and on a GPU as many copies
// as fit kCopiesBudget (or half the available memory, if less), judged by the memory one forward
// pass of the layers after the cut took.
int64_t rowsPerPassFor(const JacobianRequest& request, const at::Tensor& z, int64_t rows, int64_t forwardBytes, bool oneForward) {
  TORCH_CHECK(request.rowsPerPass <= 1 || !oneForward, "rowsPerPass ", request.rowsPerPass,
              " runs the layers after the cut (the whole model, for a cut inside it) again for each batch of rows, but there they draw dropout masks "
              "(or synchronise batch norm) that every row must share: use rowsPerPass 1, or mode 'eval'");
  if (request.rowsPerPass > 0) return std::min(request.rowsPerPass, rows);
  if (!z.is_cuda() || oneForward) return 1;
  const int64_t perCopy = std::max<int64_t>(forwardBytes, 0) + 2 * static_cast<int64_t>(z.nbytes());
  const int64_t budget = std::min(kCopiesBudget, availableBytesOn(z.device()) / 2);
  return std::clamp<int64_t>(budget / std::max<int64_t>(perCopy, 1), 1, rows);
}

}  // namespace

JacobianSpectrumResult jacobianSpectrumOf(nn::Layer& model, const at::Tensor& input, const JacobianRequest& request, JobContext* ctx) {
  // Every pass unfused, whichever way the rows run (some differentiate twice): the same operations
  // for every row, as PyTorch's.
  const nn::FusionOff unfused;
  const std::string& name = request.cut;
  const std::shared_ptr<nn::Layer> cutLayer = layerNamed(model, name);
  // A top-level layer of a Sequential: the layers before it run once, and only those after it run
  // for the rows (fewest operations). Any other cut: forward passes of the whole model with the
  // cut's output replaced (forwardWithCut).
  const auto* sequential = dynamic_cast<const nn::Sequential*>(&model);
  const nn::NamedLayers noChildren;
  const nn::NamedLayers& children = sequential ? sequential->children() : noChildren;
  size_t top = 0;  // the top-level cut's index + 1; 0: none
  for (size_t i = 0; i < children.size() && top == 0; ++i) {
    if (children[i].first == name) top = i + 1;
  }
  TORCH_CHECK(top != children.size() || top == 0, "the cut '", name, "' is the last layer: nothing comes after it");
  // What the measurement must not change: modes, buffers (running statistics), dtypes; restored
  // in reverse order when this function ends, however it ends.
  nn::ModeSnapshot modes(model);
  nn::BufferSnapshot buffers(model);
  // (tensor, its own data): float64 copies are swapped in for the measurement and the original
  // memory swapped back, so addresses a captured CUDA graph (fit's cudaGraph) holds stay valid.
  std::vector<std::pair<at::Tensor, at::Tensor>> converted;
  auto restoreDtypes = [&] {
    c10::NoGradGuard noGrad;
    for (auto& [t, original] : converted) t.set_data(original);
  };
  JacobianSpectrumResult result;
  // Graphed rows: the forward pass runs on the graph's side stream too, since backward kernels
  // go to the stream of their forward operations.
  std::optional<CudaGraph> graph;
  if (request.cudaGraph) {
    TORCH_CHECK(request.lanczosSteps == 0, "cudaGraph applies to the exact spectrum, not to Lanczos");
    TORCH_CHECK(input.is_cuda(), "cudaGraph needs the probe on a CUDA device; it is on ", input.device());
    TORCH_CHECK(request.rowsPerPass <= 1, "cudaGraph replays one row per launch; rowsPerPass ", request.rowsPerPass, " batches rows instead: use one or the other");
    graph.emplace(input.device());
  }
  try {
    c10::AutoGradMode enable(true);
    if (request.float64) {
      c10::NoGradGuard noGrad;
      for (const auto& tensors : {model.parameters(true), model.buffers(true)}) {
        for (auto t : tensors) {
          if (!at::isFloatingType(t.scalar_type()) || t.scalar_type() == at::kDouble) continue;
          converted.emplace_back(t, t.detach());
          t.set_data(t.detach().to(at::kDouble));
        }
      }
    }
    model.train(request.train);
    const at::Tensor x = request.float64 ? input.to(at::kDouble) : input;
    TORCH_CHECK(!request.train || (x.dim() > 0 && x.size(0) > 1), "the Jacobian with batch norm in train mode needs a batch of more than one input");
    at::Tensor z, y;
    int64_t forwardBytes = 0;
    // Runs the layers after a top-level cut.
    auto rest = [&](at::Tensor h) {
      for (size_t i = top; i < children.size(); ++i) h = (*children[i].second)(h);
      return h;
    };
    if (top > 0) {
      int64_t calls = 0;  // a layer listed twice (shared) would be a second variable
      nn::OutputHook count([&](const nn::Layer& layer, const at::Tensor& out) {
        calls += &layer == cutLayer.get();
        return out;
      });
      {
        c10::NoGradGuard noGrad;
        z = x;
        for (size_t i = 0; i < top; ++i) z = (*children[i].second)(z);
      }
      z = z.detach().requires_grad_(true);
      const int64_t allocatedBefore = allocatedBytesOn(z.device());
      y = rest(z);
      forwardBytes = allocatedBytesOn(z.device()) - allocatedBefore;
      checkRunsOnce(name, calls);
    } else {
      const int64_t allocatedBefore = allocatedBytesOn(x.device());
      y = forwardWithCut(model, x, *cutLayer, name, [&](const at::Tensor& out) { return z = out.detach().requires_grad_(true); });
      forwardBytes = allocatedBytesOn(x.device()) - allocatedBefore;
      TORCH_CHECK(!y.is_same(z), "the cut '", name, "' gives the model's output: nothing comes after it");
    }
    const int64_t rows = y.numel(), cols = z.numel();
    result.shape = {rows, cols};
    TORCH_CHECK(y.isfinite().all().item<bool>(), "the network's output is not finite: are there NaN or infinite weights or inputs?");
    if (request.lanczosSteps > 0) {
      result.values = lanczos(ctx, y, z, request.lanczosSteps);
    } else {
      TORCH_CHECK(std::min(rows, cols) <= kMaxExactGram, "the exact spectrum needs a ", std::min(rows, cols), " x ", std::min(rows, cols),
                  " eigenproblem, more than the ", kMaxExactGram, " allowed: use fewer inputs or a matrix-free method");
      at::Tensor jacobian = at::empty({rows, cols}, y.options());
      std::vector<const torch::nn::Module*> rerun{&model};
      if (top > 0) {
        rerun.clear();
        for (size_t i = top; i < children.size(); ++i) rerun.push_back(children[i].second.get());
      }
      const int64_t rowsPerPass = graph ? 1 : rowsPerPassFor(request, z, rows, forwardBytes, rowsShareOneForward(rerun));
      if (rowsPerPass == 1) {
        jacobianByRows(ctx, request, y, z, graph ? &*graph : nullptr, jacobian);
      } else {
        y.reset();  // the copies make their own forward passes: free this one's graph first
        CopiesForward copiesForward = [&](const at::Tensor& stacked, int64_t /*copies*/) { return rest(stacked); };
        if (top == 0) {
          // The whole model on k copies of the input, the cut's output replaced by the stacked copies.
          copiesForward = [&](const at::Tensor& stacked, int64_t k) {
            std::vector<int64_t> tile(static_cast<size_t>(x.dim()), 1);
            tile[0] = k;
            return forwardWithCut(model, x.repeat(tile), *cutLayer, name, [&](const at::Tensor& out) {
              TORCH_CHECK(out.sizes() == stacked.sizes(), "on ", k, " copies of the batch the cut '", name, "' gives shape ", out.sizes(), ", not ", stacked.sizes(),
                          ": the batch is not its first dimension; use rowsPerPass 1");
              return stacked;
            });
          };
        }
        jacobianByCopies(ctx, request, copiesForward, z.detach(), rowsPerPass, jacobian);
      }
      c10::NoGradGuard noGrad;
      at::Tensor j = jacobian.to(at::kDouble);
      at::Tensor gram = rows <= cols ? at::mm(j, j.t()) : at::mm(j.t(), j);
      result.values = singularValuesOfGram(gram);
    }
  } catch (...) {
    restoreDtypes();
    throw;
  }
  restoreDtypes();
  // A few hundred numbers: on the host, where their readers (fit's hook events, JavaScript) are.
  result.values = result.values.to(at::kCPU);
  return result;
}

namespace {

class JacobianSpectrumJob : public Job {
 public:
  std::shared_ptr<nn::Layer> model;
  at::Tensor input;
  JacobianRequest request;
  nn::InUseMarks marks;

  JacobianSpectrumJob() : Job("jacobianSpectrum") {}

  void settled() override { marks.release(); }

  void run(JobContext& ctx) override { result_ = jacobianSpectrumOf(*model, input, request, &ctx); }

  Napi::Value result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("singularValues", wrapTensor(env, result_.values));
    Napi::Array shape = Napi::Array::New(env, 2);
    shape.Set(0u, Napi::Number::New(env, static_cast<double>(result_.shape[0])));
    shape.Set(1u, Napi::Number::New(env, static_cast<double>(result_.shape[1])));
    out.Set("jacobianShape", shape);
    return out;
  }

 private:
  JacobianSpectrumResult result_;
};

// jacobianSpectrum(model, input, cut (a module name), train, float64, onProgress, lanczosSteps|null, cudaGraph, rowsPerPass|null) -> [promise, jobId]
Napi::Value JacobianSpectrum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_unique<JacobianSpectrumJob>();
  job->model = nn::moduleByHandle(env, numberArg(info, 0), "model");
  job->input = tensorArg(info, 1);
  job->request.cut = stringArg(info, 2);
  job->request.train = boolArg(info, 3);
  job->request.float64 = boolArg(info, 4);
  job->request.lanczosSteps = isMissing(info, 6) ? 0 : intArg(info, 6);
  job->request.cudaGraph = !isMissing(info, 7) && boolArg(info, 7);
  job->request.rowsPerPass = isMissing(info, 8) ? 0 : intArg(info, 8);
  job->marks.mark(env, *job->model);
  job->marks.markTensor(env, job->input);
  return submitJob(env, std::move(job), info.Length() > 5 ? info[5] : env.Undefined());
}

}  // namespace

void registerWeightSpectra(Napi::Env env, Napi::Object exports);
void registerDiagnostics(Napi::Env env, Napi::Object exports);
void registerCuts(Napi::Env env, Napi::Object exports);

void registerSpectra(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "jacobianSpectrum", JacobianSpectrum);
  registerCuts(env, exports);
  registerWeightSpectra(env, exports);
  registerDiagnostics(env, exports);
}

}  // namespace skipnorm
