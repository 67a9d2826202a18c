// Images as the data layer handles them: uint8 pixels [H, W, C], viewed without copying (a crop
// is a view), decoded from JPEG and PNG into buffers a thread reuses from example to example, so
// the per-example path allocates nothing once warm. A decoder may be told the region a transform
// will keep and the size it will be resized to: JPEG then decodes only that region, at the
// smallest DCT scale (M/8) that still gives at least the target size, which is where most of a
// random-resized-crop pipeline's time goes.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
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

// uint8 pixels [height, width, channels]: rows rowStride bytes apart, pixels packed in a row.
struct ImageView {
  const uint8_t* data = nullptr;
  int64_t height = 0, width = 0, channels = 0, rowStride = 0;

  const uint8_t* row(int64_t y) const { return data + y * rowStride; }
  ImageView crop(int64_t top, int64_t left, int64_t h, int64_t w) const {
    return {data + top * rowStride + left * channels, h, w, channels, rowStride};
  }
};

// Bytes owned by one thread and reused: grows as needed, never zero-filled, with slack past the
// end so that vector loads of a row's last pixel stay inside. Oversized buffers (an 8K image) are
// released after use rather than kept for the life of the thread.
class PixelBuffer {
 public:
  uint8_t* reserve(size_t n) {
    if (n > capacity_) {
      bytes_.reset(new uint8_t[n + kSlack]);
      capacity_ = n;
    }
    return bytes_.get();
  }
  bool holds(const uint8_t* p) const { return bytes_ && p >= bytes_.get() && p < bytes_.get() + capacity_ + kSlack; }
  void trim() {
    if (capacity_ > kKeep) {
      bytes_.reset();
      capacity_ = 0;
    }
  }
  static constexpr size_t kSlack = 64, kKeep = size_t{32} << 20;

 private:
  std::unique_ptr<uint8_t[]> bytes_;
  size_t capacity_ = 0;
};

// The view of a contiguous uint8 [H, W, C] tensor (alive as long as the view is used).
ImageView viewOf(const at::Tensor& image);
// A copy of the pixels as a new contiguous uint8 [H, W, C] tensor.
at::Tensor toTensor(const ImageView& view);
// Just the planned region of an image (the whole image without a plan or when it keeps all).
ImageView applyCrop(const ImageView& image, const CropPlan& plan);

// Decodes a JPEG or PNG held in memory into `into`, recognised by its signature (not its name).
// With a plan, returns just the planned region (possibly at a reduced scale, never below the
// planned output size), otherwise the whole image.
ImageView decodeImage(const uint8_t* bytes, size_t size, const CropPlan& plan, PixelBuffer& into);
ImageView decodeJpeg(const uint8_t* bytes, size_t size, const CropPlan& plan, PixelBuffer& into);
ImageView decodePng(const uint8_t* bytes, size_t size, PixelBuffer& into);

}  // namespace skipnorm::data
