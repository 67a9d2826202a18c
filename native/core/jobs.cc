#include "core/jobs.h"

#include <ATen/Parallel.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/args.h"
#include "core/errors.h"

namespace skipnorm {

void JobContext::checkCancelled() const {
  if (cancelled()) throw JobCancelled();
}

namespace {

// How many workers may run jobs at once: enough that a short job (an async copy) does not wait
// behind a long one (a training run), few enough not to oversubscribe the cores.
constexpr size_t kMaxWorkers = 4;

std::atomic<int> g_intraOpThreads{0};       // 0: LibTorch's default
std::atomic<uint64_t> g_threadSettingEpoch{0};

struct Message {
  enum Kind { kProgress, kDone } kind;
  ProgressFields fields;
};

struct RunningJob : JobContext {
  std::unique_ptr<Job> job;
  double id = 0;
  std::atomic<bool> cancelRequested{false};
  Napi::ThreadSafeFunction tsfn;
  Napi::Promise::Deferred deferred;
  bool hasProgressCallback = false;
  std::exception_ptr error;
  bool wasCancelled = false;

  explicit RunningJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  bool cancelled() const override { return cancelRequested.load(std::memory_order_relaxed); }
  void progress(ProgressFields fields) override;
};

std::mutex g_mutex;
std::condition_variable g_wake;
std::deque<std::shared_ptr<RunningJob>> g_queue;
std::unordered_map<double, std::shared_ptr<RunningJob>> g_jobs;  // queued or running
std::vector<std::thread> g_workers;
size_t g_idleWorkers = 0;
bool g_stopping = false;
double g_nextJobId = 1;

void deliver(Napi::Env env, Napi::Function callback, Message* message, RunningJob* running) {
  std::unique_ptr<Message> owned(message);
  if (env == nullptr) return;  // environment shutting down
  if (owned->kind == Message::kProgress) {
    if (!running->hasProgressCallback) return;
    Napi::Object report = Napi::Object::New(env);
    for (auto& [key, value] : owned->fields) report.Set(key, Napi::Number::New(env, value));
    try {
      callback.Call({report});
    } catch (const Napi::Error& e) {
      // An exception in a progress callback must not take the job down silently or crash.
      e.ThrowAsJavaScriptException();
    }
    return;
  }
  Napi::HandleScope scope(env);
  if (running->wasCancelled) {
    running->deferred.Reject(makeAbortError(env, running->job->name()).Value());
  } else if (running->error) {
    running->deferred.Reject(makeTorchError(env, running->job->name(), currentExceptionMessage(running->error)).Value());
  } else {
    try {
      running->deferred.Resolve(running->job->result(env));
    } catch (const Napi::Error& e) {
      running->deferred.Reject(e.Value());
    } catch (...) {
      running->deferred.Reject(
          makeTorchError(env, running->job->name(), currentExceptionMessage(std::current_exception())).Value());
    }
  }
}

void RunningJob::progress(ProgressFields fields) {
  if (!hasProgressCallback) return;
  auto* message = new Message{Message::kProgress, std::move(fields)};
  RunningJob* self = this;
  if (tsfn.NonBlockingCall(message, [self](Napi::Env env, Napi::Function cb, Message* m) { deliver(env, cb, m, self); }) != napi_ok) {
    delete message;
  }
}

void applyThreadSetting(uint64_t& seenEpoch) {
  uint64_t epoch = g_threadSettingEpoch.load();
  if (epoch == seenEpoch) return;
  seenEpoch = epoch;
  int n = g_intraOpThreads.load();
  if (n > 0) at::set_num_threads(n);
}

void workerLoop() {
  uint64_t seenEpoch = ~0ull;
  for (;;) {
    std::shared_ptr<RunningJob> running;
    {
      std::unique_lock<std::mutex> lock(g_mutex);
      ++g_idleWorkers;
      g_wake.wait(lock, [] { return g_stopping || !g_queue.empty(); });
      --g_idleWorkers;
      if (g_stopping) return;
      running = g_queue.front();
      g_queue.pop_front();
    }
    applyThreadSetting(seenEpoch);
    try {
      running->checkCancelled();
      running->job->run(*running);
    } catch (const JobCancelled&) {
      running->wasCancelled = true;
    } catch (...) {
      if (running->cancelled()) running->wasCancelled = true;
      else running->error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      g_jobs.erase(running->id);
    }
    auto* done = new Message{Message::kDone, {}};
    RunningJob* raw = running.get();
    // The completion callback owns the job until it has settled the promise.
    auto keep = new std::shared_ptr<RunningJob>(running);
    napi_status status = running->tsfn.BlockingCall(done, [raw, keep](Napi::Env env, Napi::Function cb, Message* m) {
      deliver(env, cb, m, raw);
      delete keep;
    });
    if (status != napi_ok) {
      delete done;
      delete keep;
    }
    running->tsfn.Release();
  }
}

void stopWorkers(void*) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_stopping = true;
    for (auto& [id, job] : g_jobs) job->cancelRequested = true;
  }
  g_wake.notify_all();
  for (auto& worker : g_workers) {
    if (worker.joinable()) worker.join();
  }
  g_workers.clear();
}

}  // namespace

Napi::Value submitJob(Napi::Env env, std::unique_ptr<Job> job, Napi::Value onProgress) {
  auto running = std::make_shared<RunningJob>(env);
  running->hasProgressCallback = onProgress.IsFunction();
  Napi::Function callback = running->hasProgressCallback
                                ? onProgress.As<Napi::Function>()
                                : Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
  running->tsfn = Napi::ThreadSafeFunction::New(env, callback, job->name(), 0, 1);
  running->job = std::move(job);
  Napi::Promise promise = running->deferred.Promise();
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    running->id = g_nextJobId++;
    g_jobs.emplace(running->id, running);
    g_queue.push_back(running);
    if (g_idleWorkers < g_queue.size() && g_workers.size() < kMaxWorkers) g_workers.emplace_back(workerLoop);
  }
  g_wake.notify_one();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, promise);
  out.Set(1u, Napi::Number::New(env, running->id));
  return out;
}

bool cancelJob(double jobId) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_jobs.find(jobId);
  if (it == g_jobs.end()) return false;
  it->second->cancelRequested = true;
  return true;
}

void setWorkerThreadCount(int count) {
  g_intraOpThreads = count;
  ++g_threadSettingEpoch;
}

int workerThreadCount() {
  int n = g_intraOpThreads.load();
  return n > 0 ? n : at::get_num_threads();
}

namespace {
Napi::Value CancelJob(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), cancelJob(numberArg(info, 0)));
}
Napi::Value ActiveJobs(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return Napi::Number::New(info.Env(), static_cast<double>(g_jobs.size()));
}
}  // namespace

void registerJobs(Napi::Env env, Napi::Object exports) {
  napi_add_env_cleanup_hook(env, stopWorkers, nullptr);
  exportFunction(env, exports, "cancelJob", CancelJob);
  exportFunction(env, exports, "activeJobs", ActiveJobs);
}

}  // namespace skipnorm
