#include "data/image.h"

#include <cstring>

namespace skipnorm::data {

at::Tensor decodeImage(const uint8_t* bytes, size_t size, const CropPlan& plan) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return decodeJpeg(bytes, size, plan);
  if (size >= 8 && std::memcmp(bytes, kPng, 8) == 0) return applyCrop(decodePng(bytes, size), plan);
  throw CorruptImage("not a JPEG or PNG file (unknown signature)");
}

at::Tensor applyCrop(const at::Tensor& image, const CropPlan& plan) {
  if (!plan) return image;
  const auto crop = plan(image.size(0), image.size(1));
  if (!crop) return image;
  return image.slice(0, crop->top, crop->top + crop->height).slice(1, crop->left, crop->left + crop->width);
}

}  // namespace skipnorm::data
