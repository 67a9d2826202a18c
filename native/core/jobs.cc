#include "core/jobs.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
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

void JobContext::progress(ProgressFields fields) {
  post([fields = std::move(fields)](Napi::Env env) -> Napi::Value {
    Napi::Object report = Napi::Object::New(env);
    for (const auto& [key, value] : fields) report.Set(key, Napi::Number::New(env, value));
    return report;
  });
}

namespace {

// How many workers may run jobs at once: enough that a short job (an async copy) does not wait
// behind a long one (a training run), few enough not to oversubscribe the cores.
constexpr size_t kMaxWorkers = 4;

std::atomic<int> g_intraOpThreads{0};       // 0: LibTorch's default
std::atomic<uint64_t> g_threadSettingEpoch{0};

struct Message {
  enum Kind { kEvent, kDone } kind;
  EventBuilder build;
};

struct RunningJob : JobContext {
  std::unique_ptr<Job> job;
  double id = 0;
  napi_env env = nullptr;
  // The submitting thread's LibTorch state (grad mode, ...), applied while the job runs.
  at::ThreadLocalState callerState;
  std::atomic<bool> cancelRequested{false};
  Napi::ThreadSafeFunction tsfn;
  Napi::Promise::Deferred deferred;
  bool hasProgressCallback = false;
  std::exception_ptr error;
  bool wasCancelled = false;

  explicit RunningJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  bool cancelled() const override { return cancelRequested.load(std::memory_order_relaxed); }
  void post(EventBuilder build) override;
};

// The pool is shared by every Node.js environment of the process (main thread and workers).
// Its state lives on the heap and is never destroyed: process.exit() runs no cleanup hooks, and
// static destructors must not run while worker threads still wait on it.
struct Pool {
  std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable idle;  // signalled when a worker finishes a job's work
  std::deque<std::shared_ptr<RunningJob>> queue;
  std::unordered_map<double, std::shared_ptr<RunningJob>> jobs;  // queued or running
  std::vector<std::thread> workers;
  // Workers running a job. A worker stops counting as busy as soon as its job's work is done
  // (before the result reaches JavaScript), so the next job reuses it instead of starting a new
  // thread: every worker has its own OpenMP team, and idle teams make busy ones spin-throttle
  // (a small MLP's steps took 2.6x as long with two teams alive).
  size_t busy = 0;
  size_t environments = 0;
  bool stopping = false;
  double nextJobId = 1;
};
Pool& pool() {
  static Pool* instance = new Pool();
  return *instance;
}

void deliver(Napi::Env env, Napi::Function callback, Message* message, RunningJob* running) {
  std::unique_ptr<Message> owned(message);
  if (env == nullptr) return;  // environment shutting down
  if (owned->kind == Message::kEvent) {
    if (!running->hasProgressCallback) return;
    Napi::HandleScope scope(env);
    try {
      callback.Call({owned->build(env)});
    } catch (...) {
      // A throwing progress callback (or event) cancels its job, which then rejects, instead of
      // becoming an uncaught exception. (The TypeScript layer keeps the error and rejects with it.)
      running->cancelRequested = true;
    }
    return;
  }
  Napi::HandleScope scope(env);
  running->job->settled();
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

void RunningJob::post(EventBuilder build) {
  if (!hasProgressCallback) return;
  auto* message = new Message{Message::kEvent, std::move(build)};
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
  Pool& p = pool();
  uint64_t seenEpoch = ~0ull;
  for (;;) {
    std::shared_ptr<RunningJob> running;
    {
      std::unique_lock<std::mutex> lock(p.mutex);
      p.wake.wait(lock, [&p] { return p.stopping || !p.queue.empty(); });
      if (p.stopping) return;
      running = p.queue.front();
      p.queue.pop_front();
      ++p.busy;
    }
    applyThreadSetting(seenEpoch);
    try {
      at::ThreadLocalStateGuard callerState(running->callerState);
      running->checkCancelled();
      running->job->run(*running);
    } catch (const JobCancelled&) {
      running->wasCancelled = true;
    } catch (...) {
      if (running->cancelled()) running->wasCancelled = true;
      else running->error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(p.mutex);
      p.jobs.erase(running->id);
      --p.busy;
    }
    p.idle.notify_all();
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

// An environment is going away: cancel its jobs; the last one out stops the workers.
void environmentClosing(void* env) {
  Pool& p = pool();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    for (auto& [id, job] : p.jobs) {
      if (job->env == env) job->cancelRequested = true;
    }
    if (--p.environments > 0) return;
    p.stopping = true;
    workers.swap(p.workers);
  }
  p.wake.notify_all();
  for (auto& worker : workers) {
    if (worker.joinable()) worker.join();
  }
  std::lock_guard<std::mutex> lock(p.mutex);
  p.stopping = false;  // a later environment starts a fresh pool
}

}  // namespace

void stopJobsAtExit(int exitCode, std::chrono::milliseconds grace) {
  Pool& p = pool();
  std::unique_lock<std::mutex> lock(p.mutex);
  for (auto& [id, job] : p.jobs) job->cancelRequested = true;
  p.queue.clear();  // never started: nothing to stop
  if (p.idle.wait_for(lock, grace, [&p] { return p.busy == 0; })) return;
  // A job is still inside LibTorch (one long step, a collective waiting for a peer): exit() would
  // run LibTorch's static destructors under it. End the process now, with the status asked for.
  std::fflush(nullptr);
  ::_exit(exitCode);
}

Napi::Value submitJob(Napi::Env env, std::unique_ptr<Job> job, Napi::Value onProgress) {
  auto running = std::make_shared<RunningJob>(env);
  running->hasProgressCallback = onProgress.IsFunction();
  Napi::Function callback = running->hasProgressCallback
                                ? onProgress.As<Napi::Function>()
                                : Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
  running->tsfn = Napi::ThreadSafeFunction::New(env, callback, job->name(), 0, 1);
  running->job = std::move(job);
  running->env = env;
  running->callerState = at::ThreadLocalState();
  Napi::Promise promise = running->deferred.Promise();
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    running->id = p.nextJobId++;
    p.jobs.emplace(running->id, running);
    p.queue.push_back(running);
    if (p.workers.size() - p.busy < p.queue.size() && p.workers.size() < kMaxWorkers) p.workers.emplace_back(workerLoop);
  }
  p.wake.notify_one();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, promise);
  out.Set(1u, Napi::Number::New(env, running->id));
  return out;
}

bool cancelJob(double jobId) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  auto it = p.jobs.find(jobId);
  if (it == p.jobs.end()) return false;
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
// stopJobsAtExit(exitCode, graceMs): from the process's 'exit' event (src/core/native.ts).
Napi::Value StopJobsAtExit(const Napi::CallbackInfo& info) {
  stopJobsAtExit(static_cast<int>(intArg(info, 0)), std::chrono::milliseconds(intArg(info, 1)));
  return info.Env().Undefined();
}
Napi::Value ActiveJobs(const Napi::CallbackInfo& info) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  size_t n = 0;
  for (auto& [id, job] : p.jobs) n += job->env == static_cast<napi_env>(info.Env()) ? 1 : 0;
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}
}  // namespace

void registerJobs(Napi::Env env, Napi::Object exports) {
  {
    std::lock_guard<std::mutex> lock(pool().mutex);
    ++pool().environments;
  }
  // Jobs get every core LibTorch would use; the JavaScript thread gets one intra-op thread.
  // Each thread that runs parallel LibTorch code keeps its own OpenMP team, and while a second
  // team exists the busy one throttles its spinning: a job's small steps took 2.3x as long after
  // one parallel op on the JavaScript thread. Heavy work belongs in jobs; see setMainThreadNumThreads.
  if (g_intraOpThreads.load() == 0) setWorkerThreadCount(at::get_num_threads());
  at::set_num_threads(1);
  napi_add_env_cleanup_hook(env, environmentClosing, env);
  exportFunction(env, exports, "cancelJob", CancelJob);
  exportFunction(env, exports, "activeJobs", ActiveJobs);
  exportFunction(env, exports, "stopJobsAtExit", StopJobsAtExit);
}

}  // namespace skipnorm
