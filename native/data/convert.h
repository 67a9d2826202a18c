// The last step of every example: one row of uint8 pixels to float, value * scale + shift per
// channel (ToTensor's 1/255 and Normalize in one multiply-add), written as planes ([C, H, W]
// batches) or interleaved (channels-last batches), read mirrored for a horizontal flip. Three
// channels go through SSE4.1 shuffles where the processor has them (16 pixels at a time). Or the
// row copied as bytes, for batches that stay uint8 until the device.
#pragma once

#include <cstdint>

namespace skipnorm::data {

struct RowScale {
  float scale[4], shift[4];
};

// Row of `width` pixels of `channels` (1..4) at src; planes[ch] receives channel ch (plain), or
// `interleaved` receives width * channels values (channels-last): exactly one of them is used.
void convertRow(const uint8_t* src, int64_t width, int64_t channels, bool mirrored, const RowScale& s, float* const* planes, float* interleaved);

// The row's bytes as they are (uint8 batches, normalised later on the device), mirrored when asked.
void copyRow(const uint8_t* src, int64_t width, int64_t channels, bool mirrored, uint8_t* dst);

}  // namespace skipnorm::data
