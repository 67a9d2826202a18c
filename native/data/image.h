// Decoding JPEG and PNG files into uint8 images [H, W, 3] (RGB, as torchvision's ImageFolder
// loader converts them). A decoder may be told the region a transform will keep and the size it
// will be resized to: JPEG then decodes only that region, at the smallest DCT scale (M/8) that
// still gives at least the target size, which is where most of a random-resized-crop pipeline's
// time goes.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace skipnorm::data {

// A corrupt, truncated or unsupported image: a loader may skip it and count it.
class CorruptImage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The region of an image a transform keeps, and the size it is resized to afterwards.
struct Crop {
  int64_t top = 0, left = 0, height = 0, width = 0;
  int64_t outHeight = 0, outWidth = 0;
};

// Called once the image's size is known; nullopt keeps the whole image.
using CropPlan = std::function<std::optional<Crop>(int64_t height, int64_t width)>;

// Images larger than this many pixels are refused (a corrupt header must not allocate gigabytes).
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;  // 8192 x 8192

// Decodes a JPEG or PNG held in memory. With a plan, returns just the planned region (possibly at
// a reduced scale, never below the planned output size), otherwise the whole image.
at::Tensor decodeImage(const uint8_t* bytes, size_t size, const CropPlan& plan = nullptr);

at::Tensor decodeJpeg(const uint8_t* bytes, size_t size, const CropPlan& plan);
at::Tensor decodePng(const uint8_t* bytes, size_t size);

// Just the crop of an image decoded whole (for PNG and in-memory data).
at::Tensor applyCrop(const at::Tensor& image, const CropPlan& plan);

}  // namespace skipnorm::data
