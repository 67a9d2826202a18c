#include "distributed/data_parallel.h"

#include <torch/csrc/distributed/c10d/reducer.hpp>

#include "distributed/group.h"

namespace skipnorm::distributed {

void DataParallel::QuietUnusedWarning::process(const c10::Warning& warning) {
  if (warning.msg().find("did not find any unused parameters") != std::string::npos) return;
  if (next) next->process(warning);
}

// Lives on the training thread for the whole run (warning handlers are per thread).
DataParallel::DataParallel(nn::Layer& model) {
  quiet_.next = c10::WarningUtils::get_warning_handler();
  quietGuard_ = std::make_unique<c10::WarningUtils::WarningHandlerGuard>(&quiet_);
  auto g = currentGroup();
  rank_ = g->rank;
  size_ = g->size;
  // Rank 0's weights and buffers everywhere, so that every replica starts the same.
  {
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> state;
    for (auto& p : model.parameters(true)) state.push_back(p);
    for (auto& b : model.buffers(true)) state.push_back(b);
    for (auto& t : state) {
      std::vector<at::Tensor> one{t};
      c10d::BroadcastOptions o;
      o.rootRank = 0;
      g->backend->broadcast(one, o)->wait();
    }
  }
  std::vector<at::Tensor> params;
  std::unordered_map<size_t, std::string> names;
  for (const auto& item : model.named_parameters(true)) {
    if (!item.value().requires_grad()) continue;
    names[params.size()] = item.key();
    params.push_back(item.value());
  }
  TORCH_CHECK(!params.empty(), "data parallelism needs a model with trainable parameters");
  constexpr int64_t kFirstBucket = 1024 * 1024, kBucket = 25 * 1024 * 1024;  // DDP's defaults
  // Buckets in reverse order of the parameters: roughly the order backward produces gradients.
  std::vector<int64_t> order(params.size());
  for (size_t i = 0; i < params.size(); ++i) order[i] = static_cast<int64_t>(params.size() - 1 - i);
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(params, {static_cast<size_t>(kFirstBucket), static_cast<size_t>(kBucket)}, {}, order);
  reducer_ = std::make_unique<c10d::Reducer>(params, buckets, g->processGroup, std::vector<bool>(params.size(), false), kBucket,
                                              /*find_unused_parameters=*/true, /*gradient_as_bucket_view=*/false, names, kFirstBucket,
                                              /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false, std::vector<int64_t>(limits.begin(), limits.end()));
}

DataParallel::~DataParallel() = default;

void DataParallel::beforeForward() { reducer_->prepare_for_forward(); }

void DataParallel::beforeBackward(const at::Tensor& output) { reducer_->prepare_for_backward({output}); }

}  // namespace skipnorm::distributed
