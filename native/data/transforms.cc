#include "data/transforms.h"

#include <c10/util/Exception.h>

#include <cmath>
#include <cstring>

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

// The view with zeros added on each side (left, top, right, bottom), in `into`.
ImageView pad(const ImageView& image, int64_t left, int64_t top, int64_t right, int64_t bottom, PixelBuffer& into) {
  if (left == 0 && top == 0 && right == 0 && bottom == 0) return image;
  const int64_t c = image.channels, h = image.height + top + bottom, w = image.width + left + right;
  uint8_t* data = into.reserve(static_cast<size_t>(h * w * c));
  std::memset(data, 0, static_cast<size_t>(h * w * c));
  for (int64_t y = 0; y < image.height; ++y) std::memcpy(data + ((y + top) * w + left) * c, image.row(y), image.width * c);
  return ImageView{data, h, w, c, w * c};
}

}  // namespace

Rng exampleRng(uint64_t seed, int64_t epoch, int64_t index) {
  return Rng(splitmix(splitmix(splitmix(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index)));
}

void Scratch::trim() {
  decoded.trim();
  work[0].trim();
  work[1].trim();
  resample.between.trim();
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

Example Pipeline::run(const Dataset& dataset, int64_t index, Rng* rng, Scratch& scratch) const {
  using K = TransformStep::Kind;
  Example ex;
  ImageView& image = ex.view;
  // A crop of the image as it is to be read: of a flipped image, the mirrored region.
  auto crop = [&](int64_t top, int64_t left, int64_t h, int64_t w) { image = image.crop(top, ex.flipped ? image.width - left - w : left, h, w); };
  auto padMirrored = [&](int64_t left, int64_t top, int64_t right, int64_t bottom) {
    if (ex.flipped) std::swap(left, right);
    image = pad(image, left, top, right, bottom, scratch.other(image));
  };
  // Resizing commutes with mirroring (the filter is symmetric): a flipped image stays a flag.
  auto resize = [&](int64_t h, int64_t w) { image = resample(image, h, w, scratch.other(image), scratch.resample); };
  size_t first = 0;
  // A random resized crop first: the decoder is told the region, so JPEGs decode only that.
  if (!steps.empty() && steps[0].kind == K::RandomResizedCrop) {
    const TransformStep& s = steps[0];
    image = dataset.pixels(index, [&](int64_t h, int64_t w) { return std::optional<Crop>(randomResizedCrop(s, *rng, h, w)); }, scratch.decoded);
    resize(s.size[0], s.size[1]);
    first = 1;
  } else {
    image = dataset.pixels(index, nullptr, scratch.decoded);
  }
  for (size_t i = first; i < steps.size(); ++i) {
    const TransformStep& s = steps[i];
    switch (s.kind) {
      case K::RandomResizedCrop: {
        const Crop c = randomResizedCrop(s, *rng, image.height, image.width);
        crop(c.top, c.left, c.height, c.width);
        resize(s.size[0], s.size[1]);
        break;
      }
      case K::Resize: {
        const int64_t h = image.height, w = image.width;
        int64_t th, tw;
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
        // An extreme shape (a 1 x 1,000,000 strip) would grow without bound: refused before allocating.
        if (static_cast<double>(th) * static_cast<double>(tw) > static_cast<double>(kMaxImagePixels)) {
          throw CorruptImage(dataset.describe(index) + ": an image of " + std::to_string(h) + " x " + std::to_string(w) + " pixels would be resized to " +
                             std::to_string(th) + " x " + std::to_string(tw) + " (an extreme shape)");
        }
        resize(th, tw);
        break;
      }
      case K::CenterCrop: {
        const int64_t ch = s.size[0], cw = s.size[1];
        if (ch > image.height || cw > image.width) {
          const int64_t padW = cw > image.width ? cw - image.width : 0, padH = ch > image.height ? ch - image.height : 0;
          padMirrored(padW / 2, padH / 2, (padW + 1) / 2, (padH + 1) / 2);
        }
        // torchvision: int(round((h - ch) / 2.0)), Python's round-half-to-even.
        const int64_t top = static_cast<int64_t>(std::nearbyint((image.height - ch) / 2.0)), left = static_cast<int64_t>(std::nearbyint((image.width - cw) / 2.0));
        crop(top, left, ch, cw);
        break;
      }
      case K::RandomCrop: {
        padMirrored(s.padding, s.padding, s.padding, s.padding);
        const int64_t ch = s.size[0], cw = s.size[1];
        TORCH_CHECK(ch <= image.height && cw <= image.width, "randomCrop: crop ", ch, " x ", cw, " is larger than the (padded) image ", image.height, " x ",
                    image.width);
        const int64_t top = randint(*rng, 0, image.height - ch), left = randint(*rng, 0, image.width - cw);
        crop(top, left, ch, cw);
        break;
      }
      case K::HorizontalFlip:
        if (uniform(*rng, 0, 1) < s.p) ex.flipped = !ex.flipped;
        break;
      case K::Normalize:
        break;
    }
  }
  return ex;
}

at::Tensor Pipeline::applyUint8(const Dataset& dataset, int64_t index, Rng* rng) const {
  Scratch scratch;
  const Example ex = run(dataset, index, rng, scratch);
  at::Tensor out = toTensor(ex.view);
  return ex.flipped ? out.flip({1}) : out;
}

RowScale Pipeline::rowScale(int64_t c) const {
  const TransformStep* norm = normalizeStep();
  if (norm) {
    TORCH_CHECK((norm->mean.size() == 1 || static_cast<int64_t>(norm->mean.size()) == c) && (norm->std.size() == 1 || static_cast<int64_t>(norm->std.size()) == c),
                "normalize: ", norm->mean.size(), " means and ", norm->std.size(), " stds for images of ", c, " channel(s)");
  }
  TORCH_CHECK(c >= 1 && c <= 4, "images must have 1 to 4 channels, got ", c);
  // (v / 255 - mean) / std as one multiply-add per value.
  RowScale scale;
  for (int64_t ch = 0; ch < c; ++ch) {
    const double mean = norm ? norm->mean[norm->mean.size() == 1 ? 0 : ch] : 0.0;
    const double sd = norm ? norm->std[norm->std.size() == 1 ? 0 : ch] : 1.0;
    scale.scale[ch] = static_cast<float>(1.0 / (255.0 * sd));
    scale.shift[ch] = static_cast<float>(-mean / sd);
  }
  return scale;
}

void Pipeline::store(const Example& ex, float* out, bool channelsLast) const {
  const ImageView& v = ex.view;
  const int64_t h = v.height, w = v.width, c = v.channels, plane = h * w;
  const RowScale scale = rowScale(c);
  for (int64_t y = 0; y < h; ++y) {
    float* planes[4];
    for (int64_t ch = 0; ch < c; ++ch) planes[ch] = out + ch * plane + y * w;
    convertRow(v.row(y), w, c, ex.flipped, scale, planes, channelsLast ? out + y * w * c : nullptr);
  }
}

void Pipeline::storeBytes(const Example& ex, uint8_t* out) const {
  const ImageView& v = ex.view;
  rowScale(v.channels);  // the same checks as store()
  for (int64_t y = 0; y < v.height; ++y) copyRow(v.row(y), v.width, v.channels, ex.flipped, out + y * v.width * v.channels);
}

}  // namespace skipnorm::data
