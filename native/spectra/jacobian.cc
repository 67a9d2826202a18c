// The paper's measurement (PAPER.md section 2): the singular values of the Jacobian of the network
// after a cut point with respect to the cut's output, over a whole batch, with batch norm in train
// mode by default (samples coupled through the batch statistics, as gradient descent sees them;
// running statistics are restored afterwards). Exact: the rows of J (one vector-Jacobian product
// per output entry, N*K of them: one per backward pass, or many per pass through stacked copies
// of the batch, the GPU default) and the eigenvalues of the smaller Gram matrix, J Jᵀ or JᵀJ, in
// float64. Cost: N*K row products through the layers after the cut, plus an m x m eigensolve
// with m = min(N*K, N*F). Runs as a job; the model is off limits to JavaScript meanwhile.
#include <c10/core/CachingDeviceAllocator.h>
#include <c10/core/GradMode.h>
#include <napi.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "core/addon.h"
#include "core/args.h"
#include "core/cuda_graph.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "distributed/sync_batch_norm.h"
#include "nn/in_use.h"
#include "nn/layers.h"
#include "nn/replicas.h"
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

// `copies` rows per pass: the layers after the cut run once on that many copies of the cut's
// output stacked along the batch (batch norm giving each copy its own statistics: nn/replicas.h),
// and one backward pass with one one-hot cotangent per copy gives that many rows. Fewer, larger
// kernels than a pass per row: what a GPU wants.
void jacobianByCopies(JobContext* ctx, const JacobianRequest& request, const nn::NamedLayers& children, int64_t cut, const at::Tensor& z, int64_t copies,
                      at::Tensor& jacobian) {
  const int64_t rows = jacobian.size(0), cols = jacobian.size(1);
  std::vector<int64_t> tile(static_cast<size_t>(z.dim()), 1);
  for (int64_t start = 0; start < rows;) {
    if (ctx) ctx->checkCancelled();
    const int64_t k = std::min(copies, rows - start);
    try {
      tile[0] = k;
      at::Tensor stacked = z.repeat(tile).requires_grad_(true);
      at::Tensor y = stacked;
      {
        nn::ReplicaScope scope(k);
        for (size_t i = static_cast<size_t>(cut); i < children.size(); ++i) y = (*children[i].second)(y);
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
// rank must do alike.
bool rowsShareOneForward(const nn::NamedLayers& children, int64_t cut) {
  if (distributed::syncBatchNormActive()) return true;
  for (size_t i = static_cast<size_t>(cut); i < children.size(); ++i) {
    for (const auto& m : children[i].second->modules(/*include_self=*/true)) {
      const auto* dropout = dynamic_cast<const nn::Dropout*>(m.get());
      if (dropout && dropout->is_training() && dropout->p() > 0) return true;
    }
  }
  return false;
}

// Rows per pass: as asked, else one on the CPU (per-pass overhead is small there and a large
// batch of few-channel convolutions uses the vector units no better), and on a GPU as many copies
// as fit kCopiesBudget (or half the available memory, if less), judged by the memory one forward
// pass of the layers after the cut took.
int64_t rowsPerPassFor(const JacobianRequest& request, const at::Tensor& z, int64_t rows, int64_t forwardBytes, bool oneForward) {
  TORCH_CHECK(request.rowsPerPass <= 1 || !oneForward, "rowsPerPass ", request.rowsPerPass,
              " runs the layers after the cut again for each batch of rows, but there they draw dropout masks (or synchronise batch norm) that every row must share: "
              "use rowsPerPass 1, or mode 'eval'");
  if (request.rowsPerPass > 0) return std::min(request.rowsPerPass, rows);
  if (!z.is_cuda() || oneForward) return 1;
  const int64_t perCopy = std::max<int64_t>(forwardBytes, 0) + 2 * static_cast<int64_t>(z.nbytes());
  const int64_t budget = std::min(kCopiesBudget, availableBytesOn(z.device()) / 2);
  return std::clamp<int64_t>(budget / std::max<int64_t>(perCopy, 1), 1, rows);
}

}  // namespace

JacobianSpectrumResult jacobianSpectrumOf(nn::Sequential& model, const at::Tensor& input, const JacobianRequest& request, JobContext* ctx) {
  const auto& children = model.children();
  const int64_t cut = request.cut;
  TORCH_CHECK(cut >= 1 && cut < static_cast<int64_t>(children.size()), "the cut must leave layers on both sides");
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
    at::Tensor z;
    {
      c10::NoGradGuard noGrad;
      z = request.float64 ? input.to(at::kDouble) : input;
      for (int64_t i = 0; i < cut; ++i) z = (*children[i].second)(z);
    }
    z = z.detach().requires_grad_(true);
    TORCH_CHECK(!request.train || z.size(0) > 1, "the Jacobian with batch norm in train mode needs a batch of more than one input");
    const int64_t allocatedBefore = allocatedBytesOn(z.device());
    at::Tensor y = z;
    for (size_t i = cut; i < children.size(); ++i) y = (*children[i].second)(y);
    const int64_t forwardBytes = allocatedBytesOn(z.device()) - allocatedBefore;
    const int64_t rows = y.numel(), cols = z.numel();
    result.shape = {rows, cols};
    TORCH_CHECK(y.isfinite().all().item<bool>(), "the network's output is not finite: are there NaN or infinite weights or inputs?");
    if (request.lanczosSteps > 0) {
      result.values = lanczos(ctx, y, z, request.lanczosSteps);
    } else {
      TORCH_CHECK(std::min(rows, cols) <= kMaxExactGram, "the exact spectrum needs a ", std::min(rows, cols), " x ", std::min(rows, cols),
                  " eigenproblem, more than the ", kMaxExactGram, " allowed: use fewer inputs or a matrix-free method");
      at::Tensor jacobian = at::empty({rows, cols}, y.options());
      const int64_t rowsPerPass = graph ? 1 : rowsPerPassFor(request, z, rows, forwardBytes, rowsShareOneForward(children, cut));
      if (rowsPerPass == 1) {
        jacobianByRows(ctx, request, y, z, graph ? &*graph : nullptr, jacobian);
      } else {
        y.reset();  // the copies make their own forward passes: free this one's graph first
        jacobianByCopies(ctx, request, children, cut, z.detach(), rowsPerPass, jacobian);
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
  std::shared_ptr<nn::Sequential> model;
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

// jacobianSpectrum(model, input, cut, train, float64, onProgress, lanczosSteps|null, cudaGraph, rowsPerPass|null) -> [promise, jobId]
Napi::Value JacobianSpectrum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = nn::moduleByHandle(env, numberArg(info, 0), "model");
  auto sequential = std::dynamic_pointer_cast<nn::Sequential>(model);
  if (!sequential) throwTypeError(env, "the model must be a Sequential (cut points are its top-level layers)");
  auto job = std::make_unique<JacobianSpectrumJob>();
  job->model = sequential;
  job->input = tensorArg(info, 1);
  job->request.cut = intArg(info, 2);
  job->request.train = boolArg(info, 3);
  job->request.float64 = boolArg(info, 4);
  job->request.lanczosSteps = isMissing(info, 6) ? 0 : intArg(info, 6);
  job->request.cudaGraph = !isMissing(info, 7) && boolArg(info, 7);
  job->request.rowsPerPass = isMissing(info, 8) ? 0 : intArg(info, 8);
  job->marks.mark(env, *sequential);
  job->marks.markTensor(env, job->input);
  return submitJob(env, std::move(job), info.Length() > 5 ? info[5] : env.Undefined());
}

}  // namespace

void registerWeightSpectra(Napi::Env env, Napi::Object exports);
void registerDiagnostics(Napi::Env env, Napi::Object exports);

void registerSpectra(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "jacobianSpectrum", JacobianSpectrum);
  registerWeightSpectra(env, exports);
  registerDiagnostics(env, exports);
}

}  // namespace skipnorm
