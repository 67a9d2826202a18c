#include "data/convert.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define SKIPNORM_X86 1
#endif

namespace skipnorm::data {

namespace {

// Outputs x0 .. width - 1, one value at a time (any channel count; the tail of a SIMD row).
void convertScalar(const uint8_t* src, int64_t width, int64_t c, bool mirrored, const RowScale& s, float* const* planes, float* interleaved, int64_t x0) {
  for (int64_t x = x0; x < width; ++x) {
    const uint8_t* p = src + (mirrored ? width - 1 - x : x) * c;
    for (int64_t ch = 0; ch < c; ++ch) {
      const float v = p[ch] * s.scale[ch] + s.shift[ch];
      if (interleaved) interleaved[x * c + ch] = v;
      else planes[ch][x] = v;
    }
  }
}

#ifdef SKIPNORM_X86
// Byte shuffles of 16 RGB pixels held in three 16-byte vectors (pixel p's channel ch is byte
// 3p + ch of the 48): 0x80 selects zero, so each result is the OR of three shuffles.
struct Shuffles {
  alignas(16) uint8_t planes[3][3][16];  // [channel][source vector]: channel ch of pixels 0..15
  alignas(16) uint8_t mirror[3][3][16];  // [result vector][source vector]: the pixels in reverse order
  Shuffles() {
    for (int ch = 0; ch < 3; ++ch) {
      for (int v = 0; v < 3; ++v) {
        for (int p = 0; p < 16; ++p) {
          const int q = 3 * p + ch;
          planes[ch][v][p] = q / 16 == v ? static_cast<uint8_t>(q % 16) : 0x80;
        }
      }
    }
    for (int r = 0; r < 3; ++r) {
      for (int v = 0; v < 3; ++v) {
        for (int i = 0; i < 16; ++i) {
          const int out = 16 * r + i, q = 3 * (15 - out / 3) + out % 3;
          mirror[r][v][i] = q / 16 == v ? static_cast<uint8_t>(q % 16) : 0x80;
        }
      }
    }
  }
};

__attribute__((target("sse4.1"))) inline __m128i gather3(const uint8_t (*masks)[16], __m128i a, __m128i b, __m128i c) {
  const __m128i x = _mm_shuffle_epi8(a, _mm_load_si128(reinterpret_cast<const __m128i*>(masks[0])));
  const __m128i y = _mm_shuffle_epi8(b, _mm_load_si128(reinterpret_cast<const __m128i*>(masks[1])));
  const __m128i z = _mm_shuffle_epi8(c, _mm_load_si128(reinterpret_cast<const __m128i*>(masks[2])));
  return _mm_or_si128(_mm_or_si128(x, y), z);
}

// 16 bytes to 16 floats (value * scale + shift), the k-th group of four with scale[k], shift[k].
__attribute__((target("sse4.1"))) inline void store16(__m128i bytes, const __m128 scale[4], const __m128 shift[4], float* out) {
  for (int k = 0; k < 4; ++k) {
    const __m128 f = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(bytes));
    _mm_storeu_ps(out + 4 * k, _mm_add_ps(_mm_mul_ps(f, scale[k]), shift[k]));
    bytes = _mm_srli_si128(bytes, 4);
  }
}

__attribute__((target("sse4.1"))) void convertRgb(const uint8_t* src, int64_t width, bool mirrored, const RowScale& s, float* const* planes, float* interleaved) {
  static const Shuffles shuffles;
  // Per channel (planes), and per group of four interleaved values (group m holds channels (4m + i) % 3).
  __m128 planeScale[3][4], planeShift[3][4], mixScale[3][4], mixShift[3][4];
  for (int ch = 0; ch < 3; ++ch) {
    for (int k = 0; k < 4; ++k) {
      planeScale[ch][k] = _mm_set1_ps(s.scale[ch]);
      planeShift[ch][k] = _mm_set1_ps(s.shift[ch]);
    }
  }
  for (int v = 0; v < 3; ++v) {
    for (int k = 0; k < 4; ++k) {
      const int m = 4 * v + k;
      mixScale[v][k] = _mm_setr_ps(s.scale[(4 * m) % 3], s.scale[(4 * m + 1) % 3], s.scale[(4 * m + 2) % 3], s.scale[(4 * m + 3) % 3]);
      mixShift[v][k] = _mm_setr_ps(s.shift[(4 * m) % 3], s.shift[(4 * m + 1) % 3], s.shift[(4 * m + 2) % 3], s.shift[(4 * m + 3) % 3]);
    }
  }
  int64_t x = 0;
  for (; x + 16 <= width; x += 16) {
    const uint8_t* block = src + 3 * (mirrored ? width - 16 - x : x);
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 32));
    if (mirrored) {
      const __m128i ra = gather3(shuffles.mirror[0], a, b, c), rb = gather3(shuffles.mirror[1], a, b, c), rc = gather3(shuffles.mirror[2], a, b, c);
      a = ra;
      b = rb;
      c = rc;
    }
    if (interleaved) {
      float* out = interleaved + 3 * x;
      store16(a, mixScale[0], mixShift[0], out);
      store16(b, mixScale[1], mixShift[1], out + 16);
      store16(c, mixScale[2], mixShift[2], out + 32);
    } else {
      for (int ch = 0; ch < 3; ++ch) store16(gather3(shuffles.planes[ch], a, b, c), planeScale[ch], planeShift[ch], planes[ch] + x);
    }
  }
  convertScalar(src, width, 3, mirrored, s, planes, interleaved, x);
}

__attribute__((target("sse4.1"))) void mirrorRgb(const uint8_t* src, int64_t width, uint8_t* dst) {
  static const Shuffles shuffles;
  int64_t x = 0;
  for (; x + 16 <= width; x += 16) {
    const uint8_t* block = src + 3 * (width - 16 - x);
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 32));
    for (int r = 0; r < 3; ++r) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * x + 16 * r), gather3(shuffles.mirror[r], a, b, c));
  }
  for (; x < width; ++x) std::memcpy(dst + 3 * x, src + 3 * (width - 1 - x), 3);
}

bool hasSse41() {
  static const bool has = __builtin_cpu_supports("sse4.1");
  return has;
}
#endif

}  // namespace

void copyRow(const uint8_t* src, int64_t width, int64_t channels, bool mirrored, uint8_t* dst) {
  if (!mirrored) {
    std::memcpy(dst, src, static_cast<size_t>(width * channels));
    return;
  }
#ifdef SKIPNORM_X86
  if (channels == 3 && hasSse41()) return mirrorRgb(src, width, dst);
#endif
  for (int64_t x = 0; x < width; ++x) std::memcpy(dst + x * channels, src + (width - 1 - x) * channels, static_cast<size_t>(channels));
}

void convertRow(const uint8_t* src, int64_t width, int64_t channels, bool mirrored, const RowScale& s, float* const* planes, float* interleaved) {
#ifdef SKIPNORM_X86
  if (channels == 3 && hasSse41()) return convertRgb(src, width, mirrored, s, planes, interleaved);
#endif
  convertScalar(src, width, channels, mirrored, s, planes, interleaved, 0);
}

}  // namespace skipnorm::data
