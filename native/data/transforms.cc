#include "data/transforms.h"

#include <c10/util/Exception.h>

#include <cmath>

namespace skipnorm::data {

namespace {

uint64_t splitmix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double uniform(Rng& rng, double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }
int64_t randint(Rng& rng, int64_t lo, int64_t hiInclusive) { return std::uniform_int_distribution<int64_t>(lo, hiInclusive)(rng); }

// torchvision's RandomResizedCrop.get_params.
Crop randomResizedCrop(const TransformStep& s, Rng& rng, int64_t height, int64_t width) {
  const double area = static_cast<double>(height * width);
  const double logLo = std::log(s.ratio[0]), logHi = std::log(s.ratio[1]);
  Crop c;
  c.outHeight = s.size[0];
  c.outWidth = s.size[1];
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * uniform(rng, s.scale[0], s.scale[1]);
    const double aspect = std::exp(uniform(rng, logLo, logHi));
    const int64_t w = std::llround(std::sqrt(target * aspect)), h = std::llround(std::sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      c.top = randint(rng, 0, height - h);
      c.left = randint(rng, 0, width - w);
      c.height = h;
      c.width = w;
      return c;
    }
  }
  const double inRatio = static_cast<double>(width) / height;
  int64_t w = width, h = height;
  if (inRatio < std::min(s.ratio[0], s.ratio[1])) h = std::llround(w / std::min(s.ratio[0], s.ratio[1]));
  else if (inRatio > std::max(s.ratio[0], s.ratio[1])) w = std::llround(h * std::max(s.ratio[0], s.ratio[1]));
  c.top = (height - h) / 2;
  c.left = (width - w) / 2;
  c.height = h;
  c.width = w;
  return c;
}

// Zero padding on each side (left, top, right, bottom) of uint8 [H, W, C].
at::Tensor pad(const at::Tensor& image, int64_t left, int64_t top, int64_t right, int64_t bottom) {
  if (left == 0 && top == 0 && right == 0 && bottom == 0) return image;
  at::Tensor out = at::zeros({image.size(0) + top + bottom, image.size(1) + left + right, image.size(2)}, at::kByte);
  out.slice(0, top, top + image.size(0)).slice(1, left, left + image.size(1)).copy_(image);
  return out;
}

at::Tensor crop(const at::Tensor& image, int64_t top, int64_t left, int64_t h, int64_t w) { return image.slice(0, top, top + h).slice(1, left, left + w); }

}  // namespace

Rng exampleRng(uint64_t seed, int64_t epoch, int64_t index) {
  return Rng(splitmix(splitmix(splitmix(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index)));
}

at::Tensor resizeImage(const at::Tensor& image, int64_t height, int64_t width) {
  if (image.size(0) == height && image.size(1) == width) return image;
  // [H, W, C] viewed as [1, C, H, W] in channels-last memory: ATen's uint8 antialiased kernel.
  at::Tensor x = image.contiguous().permute({2, 0, 1}).unsqueeze(0);
  at::Tensor y = at::_upsample_bilinear2d_aa(x, {height, width}, /*align_corners=*/false);
  return y.squeeze(0).permute({1, 2, 0});
}

bool Pipeline::random() const {
  for (const auto& s : steps) {
    if (s.kind == TransformStep::Kind::RandomResizedCrop || s.kind == TransformStep::Kind::RandomCrop || s.kind == TransformStep::Kind::HorizontalFlip) return true;
  }
  return false;
}

const TransformStep* Pipeline::normalizeStep() const {
  for (const auto& s : steps) {
    if (s.kind == TransformStep::Kind::Normalize) return &s;
  }
  return nullptr;
}

at::Tensor Pipeline::applyUint8(const Dataset& dataset, int64_t index, Rng* rng) const {
  using K = TransformStep::Kind;
  size_t first = 0;
  at::Tensor image;
  // A random resized crop first: the decoder is told the region, so JPEGs decode only that.
  if (!steps.empty() && steps[0].kind == K::RandomResizedCrop) {
    const TransformStep& s = steps[0];
    std::optional<Crop> planned;
    image = dataset.image(index, [&](int64_t h, int64_t w) {
      planned = randomResizedCrop(s, *rng, h, w);
      return planned;
    });
    image = resizeImage(image, s.size[0], s.size[1]);
    first = 1;
  } else {
    image = dataset.image(index, nullptr);
  }
  for (size_t i = first; i < steps.size(); ++i) {
    const TransformStep& s = steps[i];
    switch (s.kind) {
      case K::RandomResizedCrop: {
        const Crop c = randomResizedCrop(s, *rng, image.size(0), image.size(1));
        image = resizeImage(crop(image, c.top, c.left, c.height, c.width), s.size[0], s.size[1]);
        break;
      }
      case K::Resize: {
        int64_t h = image.size(0), w = image.size(1), th, tw;
        if (s.size.size() == 2) {
          th = s.size[0];
          tw = s.size[1];
        } else if (h <= w) {  // torchvision: the shorter side becomes size, the longer int(size * long / short)
          th = s.size[0];
          tw = static_cast<int64_t>(static_cast<double>(s.size[0]) * w / h);
        } else {
          tw = s.size[0];
          th = static_cast<int64_t>(static_cast<double>(s.size[0]) * h / w);
        }
        image = resizeImage(image, th, tw);
        break;
      }
      case K::CenterCrop: {
        const int64_t ch = s.size[0], cw = s.size[1];
        int64_t h = image.size(0), w = image.size(1);
        if (ch > h || cw > w) {
          const int64_t padW = cw > w ? cw - w : 0, padH = ch > h ? ch - h : 0;
          image = pad(image, padW / 2, padH / 2, (padW + 1) / 2, (padH + 1) / 2);
          h = image.size(0);
          w = image.size(1);
        }
        // torchvision: int(round((h - ch) / 2.0)), Python's round-half-to-even.
        const int64_t top = static_cast<int64_t>(std::nearbyint((h - ch) / 2.0)), left = static_cast<int64_t>(std::nearbyint((w - cw) / 2.0));
        image = crop(image, top, left, ch, cw);
        break;
      }
      case K::RandomCrop: {
        image = pad(image, s.padding, s.padding, s.padding, s.padding);
        const int64_t ch = s.size[0], cw = s.size[1];
        TORCH_CHECK(ch <= image.size(0) && cw <= image.size(1), "randomCrop: crop ", ch, " x ", cw, " is larger than the (padded) image ", image.size(0), " x ",
                    image.size(1));
        const int64_t top = randint(*rng, 0, image.size(0) - ch), left = randint(*rng, 0, image.size(1) - cw);
        image = crop(image, top, left, ch, cw);
        break;
      }
      case K::HorizontalFlip:
        if (uniform(*rng, 0, 1) < s.p) image = image.flip({1});
        break;
      case K::Normalize:
        break;
    }
  }
  return image;
}

void Pipeline::toFloat(const at::Tensor& image, float* out) const {
  const at::Tensor img = image.contiguous();
  const int64_t h = img.size(0), w = img.size(1), c = img.size(2), plane = h * w;
  const uint8_t* src = img.data_ptr<uint8_t>();
  const TransformStep* norm = normalizeStep();
  if (norm) {
    TORCH_CHECK((norm->mean.size() == 1 || static_cast<int64_t>(norm->mean.size()) == c) && (norm->std.size() == 1 || static_cast<int64_t>(norm->std.size()) == c),
                "normalize: ", norm->mean.size(), " means and ", norm->std.size(), " stds for images of ", c, " channel(s)");
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    // (v / 255 - mean) / std as one multiply-add per pixel.
    const double mean = norm ? norm->mean[norm->mean.size() == 1 ? 0 : ch] : 0.0;
    const double sd = norm ? norm->std[norm->std.size() == 1 ? 0 : ch] : 1.0;
    const float scale = static_cast<float>(1.0 / (255.0 * sd)), shift = static_cast<float>(-mean / sd);
    float* dst = out + ch * plane;
    for (int64_t p = 0; p < plane; ++p) dst[p] = src[p * c + ch] * scale + shift;
  }
}

}  // namespace skipnorm::data
