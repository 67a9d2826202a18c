// The order of examples in an epoch: a permutation seeded by (seed, epoch), so a resumed run and
// every rank of a distributed run see the same one. Shared by fit's in-memory batches and the
// native loader.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace skipnorm::data {

inline at::Tensor epochOrder(int64_t size, uint64_t seed, int64_t epoch) {
  // splitmix64 of (seed, epoch): distinct runs' epochs do not share orders.
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(epoch + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(z ^ (z >> 31));
  return at::randperm(size, g, at::TensorOptions().dtype(at::kLong));
}

}  // namespace skipnorm::data
