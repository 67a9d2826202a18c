// Linear algebra and FFT, with promise-returning variants of the heavy decompositions that run
// as jobs on skipnorm's worker threads, and power iteration as a progress-reporting job.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <napi.h>

#include <chrono>
#include <functional>

#include "core/args.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "tensor/register.h"

namespace skipnorm {

namespace {

using Computation = std::function<std::vector<at::Tensor>()>;

// Arguments are read on the JavaScript thread into a Computation; it runs either here
// (the sync entry point) or on a worker (the async one), so both give identical results.
using Parser = Computation (*)(const Napi::CallbackInfo& info, size_t first);

Computation parseSvdvals(const Napi::CallbackInfo& info, size_t first) {
  at::Tensor a = tensorArg(info, first);
  return [a] { return std::vector<at::Tensor>{at::linalg_svdvals(a)}; };
}
// svd(a, fullMatrices) -> [U, S, Vh]
Computation parseSvd(const Napi::CallbackInfo& info, size_t first) {
  at::Tensor a = tensorArg(info, first);
  bool full = boolArg(info, first + 1);
  return [a, full] {
    auto [u, s, vh] = at::linalg_svd(a, full);
    return std::vector<at::Tensor>{u, s, vh};
  };
}
// eigh(a, uplo) -> [eigenvalues, eigenvectors]
Computation parseEigh(const Napi::CallbackInfo& info, size_t first) {
  at::Tensor a = tensorArg(info, first);
  std::string uplo = stringArg(info, first + 1);
  return [a, uplo] {
    auto [values, vectors] = at::linalg_eigh(a, uplo);
    return std::vector<at::Tensor>{values, vectors};
  };
}
Computation parseEigvalsh(const Napi::CallbackInfo& info, size_t first) {
  at::Tensor a = tensorArg(info, first);
  std::string uplo = stringArg(info, first + 1);
  return [a, uplo] { return std::vector<at::Tensor>{at::linalg_eigvalsh(a, uplo)}; };
}
// qr(a, mode) -> [Q, R]
Computation parseQr(const Napi::CallbackInfo& info, size_t first) {
  at::Tensor a = tensorArg(info, first);
  std::string mode = stringArg(info, first + 1);
  return [a, mode] {
    auto [q, r] = at::linalg_qr(a, mode);
    return std::vector<at::Tensor>{q, r};
  };
}
Computation parseMatmul(const Napi::CallbackInfo& info, size_t first) {
  at::Tensor a = tensorArg(info, first), b = tensorArg(info, first + 1);
  return [a, b] { return std::vector<at::Tensor>{at::matmul(a, b)}; };
}

struct Decomposition {
  const char* name;
  Parser parse;
};
const Decomposition kDecompositions[] = {
    {"svdvals", parseSvdvals}, {"svd", parseSvd}, {"eigh", parseEigh},
    {"eigvalsh", parseEigvalsh}, {"qr", parseQr}, {"matmul", parseMatmul},
};

const Decomposition& decompositionArg(const Napi::CallbackInfo& info) {
  std::string name = stringArg(info, 0);
  for (const auto& d : kDecompositions) {
    if (name == d.name) {
      setOpName(d.name);
      return d;
    }
  }
  throwTypeError(info.Env(), "unknown decomposition " + name);
}

// decompose(name, ...args) -> handle or handles
Napi::Value Decompose(const Napi::CallbackInfo& info) {
  std::vector<at::Tensor> out = decompositionArg(info).parse(info, 1)();
  return out.size() == 1 ? wrapTensor(info.Env(), out[0]) : wrapTensors(info.Env(), out);
}

class ComputationJob : public Job {
 public:
  ComputationJob(const char* name, Computation computation) : Job(name), computation_(std::move(computation)) {}
  void run(JobContext&) override { out_ = computation_(); }
  Napi::Value result(Napi::Env env) override {
    return out_.size() == 1 ? wrapTensor(env, out_[0]) : wrapTensors(env, out_);
  }

 private:
  Computation computation_;
  std::vector<at::Tensor> out_;
};

// decomposeAsync(name, ...args) -> [promise, jobId]
Napi::Value DecomposeAsync(const Napi::CallbackInfo& info) {
  const Decomposition& d = decompositionArg(info);
  return submitJob(info.Env(), std::make_unique<ComputationJob>(d.name, d.parse(info, 1)), info.Env().Undefined());
}

// Largest singular value of a matrix by power iteration on AᵀA, reporting progress and
// stopping early when the estimate changes by less than tol (relative), or when cancelled.
class PowerIterationJob : public Job {
 public:
  PowerIterationJob(at::Tensor a, int64_t iterations, double tol, int64_t progressEvery, std::optional<at::Generator> generator)
      : Job("powerIteration"), a_(std::move(a)), iterations_(iterations), tol_(tol), progressEvery_(progressEvery),
        generator_(std::move(generator)) {}

  void run(JobContext& ctx) override {
    c10::NoGradGuard noGrad;
    TORCH_CHECK(a_.dim() == 2, "expected a matrix, got a tensor with ", a_.dim(), " dimensions");
    TORCH_CHECK(at::isFloatingType(a_.scalar_type()), "expected a floating-point matrix, got ", a_.scalar_type());
    at::Tensor v = at::randn({a_.size(1)}, generator_, a_.options());
    v = v / v.norm();
    double previous = 0;
    auto start = std::chrono::steady_clock::now();
    for (done_ = 1; done_ <= iterations_; ++done_) {
      ctx.checkCancelled();
      at::Tensor u = at::mv(a_, v);
      at::Tensor w = at::mv(a_.t(), u);
      sigma_ = std::sqrt(w.norm().item<double>());
      double wNorm = sigma_ * sigma_;
      if (wNorm == 0) break;
      v = w / wNorm;
      double change = std::abs(sigma_ - previous) / std::max(sigma_, 1e-30);
      previous = sigma_;
      if (progressEvery_ > 0 && done_ % progressEvery_ == 0) {
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        ctx.progress({{"iteration", static_cast<double>(done_)}, {"sigma", sigma_}, {"change", change}, {"seconds", seconds}});
      }
      if (change < tol_) {
        converged_ = true;
        break;
      }
    }
    done_ = std::min(done_, iterations_);
    vector_ = v;
  }

  Napi::Value result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("sigma", Napi::Number::New(env, sigma_));
    out.Set("iterations", Napi::Number::New(env, static_cast<double>(done_)));
    out.Set("converged", Napi::Boolean::New(env, converged_));
    out.Set("vector", wrapTensor(env, vector_));
    return out;
  }

 private:
  at::Tensor a_, vector_;
  int64_t iterations_, progressEvery_;
  double tol_;
  std::optional<at::Generator> generator_;
  int64_t done_ = 0;
  double sigma_ = 0;
  bool converged_ = false;
};

// powerIteration(a, iterations, tol, progressEvery, generator|null, onProgress|undefined) -> [promise, jobId]
Napi::Value PowerIteration(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<PowerIterationJob>(tensorArg(info, 0), intArg(info, 1), numberArg(info, 2), intArg(info, 3),
                                                 optionalGeneratorArg(info, 4));
  return submitJob(info.Env(), std::move(job), info.Length() > 5 ? info[5] : info.Env().Undefined());
}

// Plain (sync) linear algebra.
Napi::Value Inv(const Napi::CallbackInfo& info) { return wrapTensor(info.Env(), at::linalg_inv(tensorArg(info, 0))); }
Napi::Value Det(const Napi::CallbackInfo& info) { return wrapTensor(info.Env(), at::linalg_det(tensorArg(info, 0))); }
Napi::Value Solve(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::linalg_solve(tensorArg(info, 0), tensorArg(info, 1)));
}
Napi::Value Cholesky(const Napi::CallbackInfo& info) { return wrapTensor(info.Env(), at::linalg_cholesky(tensorArg(info, 0))); }
Napi::Value MatrixRank(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), at::linalg_matrix_rank(tensorArg(info, 0), std::optional<at::Tensor>(), std::optional<at::Tensor>(), false));
}
Napi::Value Pinv(const Napi::CallbackInfo& info) { return wrapTensor(info.Env(), at::linalg_pinv(tensorArg(info, 0))); }
// matrixNorm(a, ord: 'fro'|'nuc'|number)
Napi::Value MatrixNorm(const Napi::CallbackInfo& info) {
  const at::Tensor& a = tensorArg(info, 0);
  if (info[1].IsString()) return wrapTensor(info.Env(), at::linalg_matrix_norm(a, stringArg(info, 1)));
  return wrapTensor(info.Env(), at::linalg_matrix_norm(a, scalarArg(info, 1)));
}

// fft(kind, x, n|s|null, dim|dims|null, norm|null). kind: fft, ifft, rfft, irfft, fft2, ifft2,
// rfft2, irfft2, fftn, ifftn, rfftn, irfftn.
Napi::Value Fft(const Napi::CallbackInfo& info) {
  std::string kind = stringArg(info, 0);
  const at::Tensor& x = tensorArg(info, 1);
  std::optional<std::string_view> norm;
  std::string normValue;
  if (!isMissing(info, 4)) {
    normValue = stringArg(info, 4);
    norm = normValue;
  }
  static const char* const kOneDim[] = {"fft", "ifft", "rfft", "irfft", "hfft", "ihfft"};
  for (const char* name : kOneDim) {
    if (kind != name) continue;
    setOpName(name);
    std::optional<c10::SymInt> n;
    if (auto v = optionalIntArg(info, 2)) n = c10::SymInt(*v);
    int64_t dim = optionalIntArg(info, 3).value_or(-1);
    if (kind == "fft") return wrapTensor(info.Env(), at::fft_fft_symint(x, n, dim, norm));
    if (kind == "ifft") return wrapTensor(info.Env(), at::fft_ifft_symint(x, n, dim, norm));
    if (kind == "rfft") return wrapTensor(info.Env(), at::fft_rfft_symint(x, n, dim, norm));
    if (kind == "irfft") return wrapTensor(info.Env(), at::fft_irfft_symint(x, n, dim, norm));
    if (kind == "hfft") return wrapTensor(info.Env(), at::fft_hfft_symint(x, n, dim, norm));
    return wrapTensor(info.Env(), at::fft_ihfft_symint(x, n, dim, norm));
  }
  auto s = optionalIntListArg(info, 2);
  auto dims = optionalIntListArg(info, 3);
  at::OptionalIntArrayRef sRef = s ? at::OptionalIntArrayRef(*s) : std::nullopt;
  bool twoDim = kind.size() > 1 && kind.back() == '2';
  std::vector<int64_t> lastTwo{-2, -1};
  at::OptionalIntArrayRef dimRef = dims ? at::OptionalIntArrayRef(*dims) : (twoDim ? at::OptionalIntArrayRef(lastTwo) : std::nullopt);
  std::string base = twoDim ? kind.substr(0, kind.size() - 1) + "n" : kind;
  if (base == "fftn") { setOpName("fftn"); return wrapTensor(info.Env(), at::fft_fftn(x, sRef, dimRef, norm)); }
  if (base == "ifftn") { setOpName("ifftn"); return wrapTensor(info.Env(), at::fft_ifftn(x, sRef, dimRef, norm)); }
  if (base == "rfftn") { setOpName("rfftn"); return wrapTensor(info.Env(), at::fft_rfftn(x, sRef, dimRef, norm)); }
  if (base == "irfftn") { setOpName("irfftn"); return wrapTensor(info.Env(), at::fft_irfftn(x, sRef, dimRef, norm)); }
  throwTypeError(info.Env(), "unknown FFT kind " + kind);
}

// fftshift(inverse, x, dims|null)
Napi::Value FftShift(const Napi::CallbackInfo& info) {
  bool inverse = boolArg(info, 0);
  auto dims = optionalIntListArg(info, 2);
  at::OptionalIntArrayRef ref = dims ? at::OptionalIntArrayRef(*dims) : std::nullopt;
  const at::Tensor& x = tensorArg(info, 1);
  return wrapTensor(info.Env(), inverse ? at::fft_ifftshift(x, ref) : at::fft_fftshift(x, ref));
}

}  // namespace

void registerLinalg(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "decompose", Decompose);
  exportFunction(env, exports, "decomposeAsync", DecomposeAsync);
  exportFunction(env, exports, "powerIteration", PowerIteration);
  exportFunction(env, exports, "inv", Inv);
  exportFunction(env, exports, "det", Det);
  exportFunction(env, exports, "solve", Solve);
  exportFunction(env, exports, "cholesky", Cholesky);
  exportFunction(env, exports, "matrixRank", MatrixRank);
  exportFunction(env, exports, "pinv", Pinv);
  exportFunction(env, exports, "matrixNorm", MatrixNorm);
  exportFunction(env, exports, "fft", Fft);
  exportFunction(env, exports, "fftShift", FftShift);
}

}  // namespace skipnorm
