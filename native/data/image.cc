#include "data/image.h"

#include <c10/util/Exception.h>

#include <cstring>

namespace skipnorm::data {

ImageView decodeImage(const uint8_t* bytes, size_t size, const CropPlan& plan, PixelBuffer& into) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return decodeJpeg(bytes, size, plan, into);
  if (size >= 8 && std::memcmp(bytes, kPng, 8) == 0) return applyCrop(decodePng(bytes, size, into), plan);
  throw CorruptImage("not a JPEG or PNG file (unknown signature)");
}

ImageView viewOf(const at::Tensor& image) {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == at::kByte && image.is_contiguous(), "expected a contiguous uint8 [H, W, C] image");
  return {image.data_ptr<uint8_t>(), image.size(0), image.size(1), image.size(2), image.size(1) * image.size(2)};
}

at::Tensor toTensor(const ImageView& view) {
  at::Tensor out = at::empty({view.height, view.width, view.channels}, at::kByte);
  const int64_t rowBytes = view.width * view.channels;
  uint8_t* dst = out.data_ptr<uint8_t>();
  for (int64_t y = 0; y < view.height; ++y) std::memcpy(dst + y * rowBytes, view.row(y), rowBytes);
  return out;
}

ImageView applyCrop(const ImageView& image, const CropPlan& plan) {
  if (!plan) return image;
  const auto crop = plan(image.height, image.width);
  if (!crop) return image;
  return image.crop(crop->top, crop->left, crop->height, crop->width);
}

}  // namespace skipnorm::data
