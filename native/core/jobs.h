// Long work off the JavaScript thread. A Job runs on one of skipnorm's own worker threads (not
// libuv's small pool), reports progress and settles its promise through a thread-safe function,
// and notices cancellation between steps. Each worker sets LibTorch's intra-op thread count for
// itself, since OpenMP state is per thread. Training, spectra and data loading are jobs.
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace skipnorm {

// A progress report: named numbers, delivered to JavaScript as a plain object.
using ProgressFields = std::vector<std::pair<std::string, double>>;
// Any other event: built into a JavaScript value on the JavaScript thread.
using EventBuilder = std::function<Napi::Value(Napi::Env)>;

class JobContext;

class Job {
 public:
  explicit Job(std::string name) : name_(std::move(name)) {}
  virtual ~Job() = default;
  // Worker thread: the heavy work. Throw to reject; call ctx.checkCancelled() between steps.
  virtual void run(JobContext& ctx) = 0;
  // JavaScript thread, after run() returned: the value the promise resolves with.
  virtual Napi::Value result(Napi::Env env) = 0;
  // JavaScript thread, once the job has ended (resolved, rejected or cancelled), before the
  // promise settles: release what the job held (e.g. the in-use marks on a model).
  virtual void settled() {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

class JobContext {
 public:
  virtual ~JobContext() = default;
  virtual bool cancelled() const = 0;
  void checkCancelled() const;
  // Non-blocking: the report is queued for the JavaScript thread.
  void progress(ProgressFields fields);
  // Non-blocking: the event is built and passed to the job's callback on the JavaScript thread.
  virtual void post(EventBuilder build) = 0;
};

// Queues a job; returns [promise, jobId]. onProgress may be undefined.
Napi::Value submitJob(Napi::Env env, std::unique_ptr<Job> job, Napi::Value onProgress);
// Asks a running or queued job to stop; it rejects with an AbortError. False if already settled.
bool cancelJob(double jobId);

// The process is exiting (process.exit(), an uncaught exception) while jobs may run inside LibTorch
// on worker threads, where exit() would run LibTorch's static destructors under them (a crash).
// Cancels every job and waits for the running ones to stop at their next check; a job that does
// not stop within `grace` ends the process at once with `exitCode`.
void stopJobsAtExit(int exitCode, std::chrono::milliseconds grace);

void setWorkerThreadCount(int count);  // intra-op threads each worker uses
int workerThreadCount();
void registerJobs(Napi::Env env, Napi::Object exports);

}  // namespace skipnorm
