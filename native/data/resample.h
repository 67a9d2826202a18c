// Resizing as PIL's Image.resize with its bilinear filter (what torchvision's Resize and
// RandomResizedCrop do to PIL images), bit for bit: a triangle filter widened by the scale when
// shrinking (antialiasing), weights normalised and rounded to 22-bit fixed point, a horizontal
// pass over just the rows the vertical pass reads, then the vertical pass, with 8-bit rounding in
// between. The passes use SSE4.1 and AVX2 where the processor has them (chosen at run time).
#pragma once

#include <cstdint>
#include <vector>

#include "data/image.h"

namespace skipnorm::data {

// The taps of one pass: output i reads inputs first[i] .. first[i] + count[i] - 1 with the
// weights at weights[i * stride ...].
struct ResampleTaps {
  std::vector<int32_t> first, count, weights;
  int64_t stride = 0;
  // The same taps, every output reading `span` inputs (the most any reads; windows at the end
  // moved left, zero weights added): a fixed-length inner loop for the vector passes.
  std::vector<int32_t> spanFirst, spanWeights;
  int64_t span = 0;
};

// What a thread reuses from one resize to the next.
struct ResampleScratch {
  ResampleTaps horizontal, vertical;
  PixelBuffer between;         // the horizontal pass's output
  std::vector<int32_t> sums;   // one row of fixed-point sums
};

// `in` resized to height x width into `out` (which must not hold `in`); `in` itself when the
// size is unchanged.
ImageView resample(const ImageView& in, int64_t height, int64_t width, PixelBuffer& out, ResampleScratch& scratch);

}  // namespace skipnorm::data
