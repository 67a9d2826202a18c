// Multi-process collectives on PyTorch's own distributed engine (c10d): a TCPStore rendezvous
// bound to the given address (the socket is bound here and handed over as masterListenFd, since
// TCPStore alone listens on every interface) and a Gloo (CPU) or NCCL (GPU) process group on top, one per process,
// as torch.distributed's default group. Collectives run as jobs (they block until every rank
// arrives); a rank that dies makes the others' collectives fail with Gloo's error, not hang.
// This is the layer data-parallel training (gradient buckets, synchronised batch norm) builds on.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <napi.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstring>
#include <mutex>

#include "core/addon.h"
#include "core/args.h"
#include "core/errors.h"
#include "core/jobs.h"
#include "core/options.h"
#include "distributed/group.h"

namespace skipnorm {

namespace distributed {

namespace {
// Process-wide, as torch.distributed's default group (worker_threads share it).
std::mutex groupMutex;
std::shared_ptr<Group> group;
}  // namespace

std::shared_ptr<Group> currentGroup() {
  std::lock_guard<std::mutex> lock(groupMutex);
  TORCH_CHECK(group, "the process group is not initialised: call distributed.init first");
  return group;
}

namespace {
void waitFor(Group& g, const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    // Gloo's messages start with its source location ("[.../pair.cc:553] Connection closed by
    // peer ..."): keep what it says, say which collective.
    std::string message = e.what();
    if (!message.empty() && message[0] == '[') {
      const size_t end = message.find("] ");
      if (end != std::string::npos) message = message.substr(end + 2);
    }
    TORCH_CHECK(false, what, " failed on rank ", g.rank, " of ", g.size, ": ", message);
  }
}
}  // namespace

void allReduceSum(Group& g, at::Tensor& t, const char* what) {
  std::vector<at::Tensor> tensors{t};
  waitFor(g, g.backend->allreduce(tensors), what);
}

}  // namespace distributed

using distributed::currentGroup;
using distributed::Group;
using distributed::group;
using distributed::groupMutex;

namespace {

// A listening socket bound to host:port (IPv4), for TCPStore to take over.
int listenOn(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  TORCH_CHECK(fd >= 0, "cannot create a socket: ", std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    TORCH_CHECK(false, "masterAddr must be an IPv4 address, got '", host, "'");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 128) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    TORCH_CHECK(false, "cannot listen on ", host, ":", port, ": ", why);
  }
  return fd;
}

// This machine's IPv4 address on the route to host:port (no packet is sent: connecting a UDP
// socket only picks the route). Every rank binds its Gloo connections there: the master's address
// itself is only one of the first machine's addresses.
std::string localAddressTowards(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  TORCH_CHECK(fd >= 0, "cannot create a socket: ", std::strerror(errno));
  sockaddr_in master{};
  master.sin_family = AF_INET;
  master.sin_port = htons(static_cast<uint16_t>(port));
  sockaddr_in local{};
  socklen_t length = sizeof(local);
  const bool ok = ::inet_pton(AF_INET, host.c_str(), &master.sin_addr) == 1 && ::connect(fd, reinterpret_cast<sockaddr*>(&master), sizeof(master)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0;
  const std::string why = std::strerror(errno);
  ::close(fd);
  TORCH_CHECK(ok, "no route from this machine to the master address ", host, ": ", why);
  char text[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text));
  return text;
}

class InitJob : public Job {
 public:
  std::string host, backend = "gloo";
  std::string socketInterface;  // the network interface for Gloo, by name; empty: the route to the master
  int port = 29500, rank = 0, size = 1;
  std::chrono::milliseconds timeout{60000};
  InitJob() : Job("distributed.init") {}
  void run(JobContext&) override {
    {
      std::lock_guard<std::mutex> lock(groupMutex);
      TORCH_CHECK(!group, "the process group is already initialised (call distributed.destroy first)");
    }
    auto g = std::make_shared<Group>();
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(port);
    o.isServer = rank == 0;
    o.numWorkers = size;
    o.waitWorkers = true;
    o.timeout = timeout;
    if (rank == 0) o.masterListenFd = listenOn(host, port);
    g->store = c10::make_intrusive<c10d::TCPStore>(host, o);
    g->processGroup = c10::make_intrusive<c10d::ProcessGroup>(g->store, rank, size);
    if (backend == "nccl") {
      g->backend = distributed::makeNcclBackend(g->store, rank, size, timeout);
      g->nccl = true;
      g->processGroup->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, g->backend);
      g->processGroup->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
    } else {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(socketInterface.empty() ? c10d::ProcessGroupGloo::createDeviceForHostname(localAddressTowards(host, port))
                                                         : c10d::ProcessGroupGloo::createDeviceForInterface(socketInterface));
      g->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, rank, size, options);
      g->processGroup->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, g->backend);
      g->processGroup->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
    }
    g->rank = rank;
    g->size = size;
    std::lock_guard<std::mutex> lock(groupMutex);
    group = g;
  }
  Napi::Value result(Napi::Env env) override { return env.Undefined(); }
};

// init({ rank, worldSize, masterAddr, masterPort, timeoutMs, backend, socketInterface }) -> [promise, jobId]
Napi::Value Init(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throwTypeError(info.Env(), "expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto job = std::make_unique<InitJob>();
  job->rank = static_cast<int>(intOption(o, "rank"));
  job->size = static_cast<int>(intOption(o, "worldSize"));
  job->host = stringOption(o, "masterAddr", "127.0.0.1");
  job->port = static_cast<int>(intOption(o, "masterPort", 29500));
  job->timeout = std::chrono::milliseconds(intOption(o, "timeoutMs", 60000));
  job->backend = stringOption(o, "backend", "gloo");
  job->socketInterface = stringOption(o, "socketInterface", "");
  TORCH_CHECK(job->backend == "gloo" || job->backend == "nccl", "backend must be 'gloo' or 'nccl', got '", job->backend, "'");
  TORCH_CHECK(job->size >= 1 && job->rank >= 0 && job->rank < job->size, "rank ", job->rank, " is not in 0..worldSize-1 (worldSize ", job->size, ")");
  TORCH_CHECK(job->port > 0 && job->port < 65536, "masterPort must be in 1..65535");
  TORCH_CHECK(job->timeout.count() > 0, "timeoutMs must be positive");
  return submitJob(info.Env(), std::move(job), info.Env().Undefined());
}

class CollectiveJob : public Job {
 public:
  std::string kind;  // allReduce | broadcast | barrier
  at::Tensor tensor;
  std::string op = "sum";
  int root = 0;
  explicit CollectiveJob(std::string k) : Job("distributed." + k), kind(std::move(k)) {}
  void run(JobContext&) override {
    auto g = currentGroup();
    std::vector<at::Tensor> tensors;
    if (tensor.defined()) tensors.push_back(tensor);
    c10::intrusive_ptr<c10d::Work> work;
    if (kind == "allReduce") {
      c10d::AllreduceOptions o;
      o.reduceOp = op == "max" ? c10d::ReduceOp::MAX : op == "min" ? c10d::ReduceOp::MIN : op == "product" ? c10d::ReduceOp::PRODUCT : c10d::ReduceOp::SUM;
      work = g->backend->allreduce(tensors, o);
    } else if (kind == "broadcast") {
      c10d::BroadcastOptions o;
      o.rootRank = root;
      work = g->backend->broadcast(tensors, o);
    } else {
      work = g->backend->barrier();
    }
    distributed::waitFor(*g, work, kind);
    if (kind == "allReduce" && op == "avg") tensor.div_(g->size);  // Gloo has no AVG: sum, then divide (NCCL alike)
  }
  Napi::Value result(Napi::Env env) override { return env.Undefined(); }
};

// The tensor a collective works on in place, contiguous: Gloo takes CPU tensors, NCCL CUDA ones.
at::Tensor collectiveTensor(const Napi::CallbackInfo& info) {
  at::Tensor t = tensorArg(info, 0);
  bool nccl = false;  // without a group, the collective's job reports that
  {
    std::lock_guard<std::mutex> lock(groupMutex);
    nccl = group && group->nccl;
  }
  TORCH_CHECK(nccl ? t.is_cuda() : t.device().is_cpu(), nccl ? "NCCL collectives take CUDA tensors" : "Gloo collectives take CPU tensors", ", got a tensor on ", t.device());
  TORCH_CHECK(t.is_contiguous(), "the tensor must be contiguous");
  return t;
}

// allReduce(tensor, op) / broadcast(tensor, root) / barrier() -> [promise, jobId]
Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<CollectiveJob>("allReduce");
  job->tensor = collectiveTensor(info);
  job->op = stringArg(info, 1);
  TORCH_CHECK(job->op == "sum" || job->op == "avg" || job->op == "max" || job->op == "min" || job->op == "product", "op must be sum, avg, max, min or product");
  return submitJob(info.Env(), std::move(job), info.Env().Undefined());
}

Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<CollectiveJob>("broadcast");
  job->tensor = collectiveTensor(info);
  job->root = static_cast<int>(intArg(info, 1));
  return submitJob(info.Env(), std::move(job), info.Env().Undefined());
}

Napi::Value Barrier(const Napi::CallbackInfo& info) { return submitJob(info.Env(), std::make_unique<CollectiveJob>("barrier"), info.Env().Undefined()); }

Napi::Value State(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(groupMutex);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("initialized", Napi::Boolean::New(info.Env(), group != nullptr));
  out.Set("rank", Napi::Number::New(info.Env(), group ? group->rank : 0));
  out.Set("worldSize", Napi::Number::New(info.Env(), group ? group->size : 1));
  return out;
}

// distDestroy(abort?): abort at process exit, where a collective may still be waiting for a
// rank that is gone.
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(groupMutex);
  // NCCL's communicators are shut down explicitly, while CUDA is alive: left to the destructor at
  // exit, the CUDA runtime is unloaded by then and the abort there ends the process.
  if (group && group->nccl) distributed::shutdownNcclBackend(*group->backend, !isMissing(info, 0) && boolArg(info, 0));
  group.reset();
  return info.Env().Undefined();
}

}  // namespace

void registerDistributed(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "distInit", Init);
  exportFunction(env, exports, "distAllReduce", AllReduce);
  exportFunction(env, exports, "distBroadcast", Broadcast);
  exportFunction(env, exports, "distBarrier", Barrier);
  exportFunction(env, exports, "distState", State);
  exportFunction(env, exports, "distDestroy", Destroy);
}

}  // namespace skipnorm
