#include "data/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define SKIPNORM_X86 1
#endif

namespace skipnorm::data {

namespace {

constexpr int kPrecision = 22;  // 32 - 8 - 2 bits: sums of 8-bit samples times weights fit in int32
constexpr int32_t kHalf = int32_t{1} << (kPrecision - 1);

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// The taps resizing inSize samples to outSize, as PIL computes them (support 1, widened by the
// scale when shrinking; each output's weights normalised to sum 1, then rounded to fixed point).
void computeTaps(int64_t inSize, int64_t outSize, ResampleTaps& taps) {
  const double scale = static_cast<double>(inSize) / static_cast<double>(outSize);
  const double filterScale = std::max(scale, 1.0), support = filterScale, inverse = 1.0 / filterScale;
  taps.stride = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  taps.first.resize(outSize);
  taps.count.resize(outSize);
  taps.weights.assign(static_cast<size_t>(outSize * taps.stride), 0);
  std::vector<double> k(static_cast<size_t>(taps.stride));
  for (int64_t i = 0; i < outSize; ++i) {
    const double center = (static_cast<double>(i) + 0.5) * scale;
    const int64_t first = std::max<int64_t>(0, static_cast<int64_t>(center - support + 0.5));
    const int64_t count = std::min<int64_t>(inSize, static_cast<int64_t>(center + support + 0.5)) - first;
    double total = 0;
    for (int64_t x = 0; x < count; ++x) total += k[x] = triangle((static_cast<double>(x + first) - center + 0.5) * inverse);
    int32_t* w = taps.weights.data() + i * taps.stride;
    int64_t kept = 0, skipped = 0;
    for (int64_t x = 0; x < count; ++x) {
      const double v = (total != 0.0 ? k[x] / total : k[x]) * (1 << kPrecision);
      const int32_t weight = static_cast<int32_t>(v < 0 ? v - 0.5 : v + 0.5);  // truncation toward zero, as C's cast
      // Taps of weight zero at either end add nothing: left out (a third of the work when enlarging).
      if (weight == 0 && kept == 0) {
        ++skipped;
        continue;
      }
      w[kept++] = weight;
    }
    while (kept > 0 && w[kept - 1] == 0) --kept;
    taps.first[i] = static_cast<int32_t>(first + skipped);
    taps.count[i] = static_cast<int32_t>(kept);
  }
}

inline uint8_t clip8(int32_t sum) {
  const int32_t v = sum >> kPrecision;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Any channel count, one sample at a time.
void horizontalScalar(const ImageView& in, int64_t y0, int64_t rows, const ResampleTaps& t, uint8_t* out) {
  const int64_t c = in.channels, outWidth = static_cast<int64_t>(t.first.size());
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* src = in.row(y0 + y);
    uint8_t* dst = out + y * outWidth * c;
    for (int64_t x = 0; x < outWidth; ++x) {
      const int32_t* w = t.weights.data() + x * t.stride;
      const uint8_t* p = src + static_cast<int64_t>(t.first[x]) * c;
      for (int64_t ch = 0; ch < c; ++ch) {
        int32_t sum = kHalf;
        for (int32_t k = 0; k < t.count[x]; ++k) sum += p[k * c + ch] * w[k];
        dst[x * c + ch] = clip8(sum);
      }
    }
  }
}

#ifdef SKIPNORM_X86
// The taps as fixed-length windows of `span` inputs (span <= inSize).
void spanTaps(ResampleTaps& t, int64_t inSize) {
  const int64_t n = static_cast<int64_t>(t.first.size());
  t.span = std::max<int64_t>(1, *std::max_element(t.count.begin(), t.count.end()));
  t.spanFirst.resize(n);
  t.spanWeights.assign(static_cast<size_t>(n * t.span), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t first = std::min<int64_t>(t.first[i], inSize - t.span), shift = t.first[i] - first;
    t.spanFirst[i] = static_cast<int32_t>(first);
    for (int32_t k = 0; k < t.count[i]; ++k) t.spanWeights[i * t.span + shift + k] = t.weights[i * t.stride + k];
  }
}

// Three channels: one pixel's R, G, B (and a fourth lane ignored) as four 32-bit lanes, so each
// tap is one multiply-add for the whole pixel; every output reads SPAN pixels (a loop the compiler
// unrolls). Pixels are loaded four bytes at a time, the row's last pixel from one byte earlier, so
// no load reaches past the row. Results are stored four bytes at
// a time (the next pixel overwrites the fourth; buffers have slack past their end).
template <int SPAN>
__attribute__((target("sse4.1"))) void horizontalRgbSpan(const ImageView& in, int64_t y0, int64_t rows, const ResampleTaps& t, uint8_t* out) {
  const int64_t outWidth = static_cast<int64_t>(t.first.size()), span = SPAN > 0 ? SPAN : t.span;
  const int32_t* firsts = t.spanFirst.data();
  const int32_t* weights = t.spanWeights.data();
  // Outputs [0, inner) never read the last column.
  int64_t inner = outWidth;
  while (inner > 0 && firsts[inner - 1] + span > in.width - 1) --inner;
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* src = in.row(y0 + y);
    uint8_t* dst = out + y * outWidth * 3;
    for (int64_t x = 0; x < outWidth; ++x) {
      const int32_t* w = weights + x * span;
      const uint8_t* p = src + static_cast<int64_t>(firsts[x]) * 3;
      __m128i sum = _mm_set1_epi32(kHalf);
      if (x < inner) {
        for (int64_t k = 0; k < span; ++k) {
          int32_t bytes;
          std::memcpy(&bytes, p + 3 * k, 4);
          sum = _mm_add_epi32(sum, _mm_mullo_epi32(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(bytes)), _mm_set1_epi32(w[k])));
        }
      } else {  // the window's last pixel is the row's last
        for (int64_t k = 0; k < span; ++k) {
          int32_t bytes;
          if (k + 1 < span) {
            std::memcpy(&bytes, p + 3 * k, 4);
          } else {
            std::memcpy(&bytes, p + 3 * k - 1, 4);
            bytes = static_cast<int32_t>(static_cast<uint32_t>(bytes) >> 8);
          }
          sum = _mm_add_epi32(sum, _mm_mullo_epi32(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(bytes)), _mm_set1_epi32(w[k])));
        }
      }
      const __m128i shifted = _mm_srai_epi32(sum, kPrecision);
      const int32_t packed = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(shifted, shifted), shifted));
      std::memcpy(dst + x * 3, &packed, 4);
    }
  }
}

void horizontalRgb(const ImageView& in, int64_t y0, int64_t rows, ResampleTaps& t, uint8_t* out) {
  spanTaps(t, in.width);
  switch (t.span) {
    case 1: return horizontalRgbSpan<1>(in, y0, rows, t, out);
    case 2: return horizontalRgbSpan<2>(in, y0, rows, t, out);
    case 3: return horizontalRgbSpan<3>(in, y0, rows, t, out);
    case 4: return horizontalRgbSpan<4>(in, y0, rows, t, out);
    default: return horizontalRgbSpan<0>(in, y0, rows, t, out);
  }
}

bool hasSse41() {
  static const bool has = __builtin_cpu_supports("sse4.1");
  return has;
}
#endif

// One output row of the vertical pass: every byte of the row is an independent sum over the
// input rows, which the compiler vectorises (an AVX2 clone is chosen at run time where present).
#ifdef SKIPNORM_X86
__attribute__((target_clones("avx2", "default")))
#endif
void verticalRow(const ImageView& in, int64_t first, int64_t count, const int32_t* w, int64_t n, int32_t* sums, uint8_t* dst) {
  for (int64_t j = 0; j < n; ++j) sums[j] = kHalf;
  for (int64_t k = 0; k < count; ++k) {
    const uint8_t* src = in.row(first + k);
    const int32_t wk = w[k];
    for (int64_t j = 0; j < n; ++j) sums[j] += src[j] * wk;
  }
  for (int64_t j = 0; j < n; ++j) {
    const int32_t v = sums[j] >> kPrecision;
    dst[j] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

}  // namespace

ImageView resample(const ImageView& in, int64_t height, int64_t width, PixelBuffer& out, ResampleScratch& s) {
  const bool horizontal = width != in.width, vertical = height != in.height;
  if (!horizontal && !vertical) return in;
  const int64_t c = in.channels;
  ImageView source = in;
  int64_t y0 = 0;
  if (vertical) computeTaps(in.height, height, s.vertical);
  if (horizontal) {
    computeTaps(in.width, width, s.horizontal);
    // Only the rows the vertical pass reads.
    int64_t y1 = in.height;
    if (vertical) {
      y0 = s.vertical.first.front();
      y1 = s.vertical.first.back() + s.vertical.count.back();
    }
    uint8_t* data = (vertical ? s.between : out).reserve(static_cast<size_t>((y1 - y0) * width * c));
#ifdef SKIPNORM_X86
    if (c == 3 && in.width >= 2 && hasSse41()) horizontalRgb(in, y0, y1 - y0, s.horizontal, data);
    else horizontalScalar(in, y0, y1 - y0, s.horizontal, data);
#else
    horizontalScalar(in, y0, y1 - y0, s.horizontal, data);
#endif
    source = ImageView{data, y1 - y0, width, c, width * c};
    if (!vertical) return source;
  }
  const int64_t rowBytes = width * c;
  uint8_t* data = out.reserve(static_cast<size_t>(height * rowBytes));
  s.sums.resize(static_cast<size_t>(rowBytes));
  for (int64_t y = 0; y < height; ++y) {
    verticalRow(source, s.vertical.first[y] - y0, s.vertical.count[y], s.vertical.weights.data() + y * s.vertical.stride, rowBytes, s.sums.data(),
                data + y * rowBytes);
  }
  return ImageView{data, height, width, c, rowBytes};
}

}  // namespace skipnorm::data
