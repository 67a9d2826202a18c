// The process's c10d process group, made by distributed.init (process_group.cc) and used by
// collectives, data-parallel training and synchronised batch norm: Gloo between CPUs (CPU
// tensors), or NCCL between GPUs (CUDA tensors; nccl_backend.cc, CUDA builds).
#pragma once

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <memory>

namespace skipnorm::distributed {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  bool nccl = false;  // else Gloo
  c10::intrusive_ptr<c10d::ProcessGroup> processGroup;  // the backend as a ProcessGroup (what c10d's Reducer takes)
  int rank = 0, size = 1;
};

// An NCCL backend on the store (a TorchError in a build without NCCL).
c10::intrusive_ptr<c10d::Backend> makeNcclBackend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, std::chrono::milliseconds timeout);
// Shuts an NCCL backend down (its communicators and watchdog), as destroy_process_group does;
// `abort` drops the communicators without waiting for their work (at exit).
void shutdownNcclBackend(c10d::Backend& backend, bool abort);

// The current group, or a TorchError when distributed.init has not run.
std::shared_ptr<Group> currentGroup();

// In-place sum across ranks, waiting for it; errors name the collective and strip Gloo's source location.
void allReduceSum(Group& g, at::Tensor& t, const char* what);

}  // namespace skipnorm::distributed
