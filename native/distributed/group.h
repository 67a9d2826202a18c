// The process's c10d process group (Gloo), made by distributed.init (process_group.cc) and used
// by collectives, data-parallel training and synchronised batch norm.
#pragma once

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <memory>

namespace skipnorm::distributed {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> backend;
  c10::intrusive_ptr<c10d::ProcessGroup> processGroup;  // the backend as a ProcessGroup (what c10d's Reducer takes)
  int rank = 0, size = 1;
};

// The current group, or a TorchError when distributed.init has not run.
std::shared_ptr<Group> currentGroup();

// In-place sum across ranks, waiting for it; errors name the collective and strip Gloo's source location.
void allReduceSum(Group& g, at::Tensor& t, const char* what);

}  // namespace skipnorm::distributed
