// JPEG through libjpeg-turbo (Debian's libjpeg62-turbo): SIMD decoding, DCT-domain scaling
// (scale_num / 8) and partial decoding (jpeg_crop_scanline, jpeg_skip_scanlines), baseline and
// progressive. YCbCr, RGB and greyscale files decode to RGB in the library; CMYK and YCCK files
// (Photoshop's, found in ImageNet) decode to CMYK and are converted to RGB as PIL's
// convert('RGB') does. Errors longjmp out of the library: every object with a destructor lives
// outside the setjmp region, and warnings (a truncated file decodes as grey) count as corruption.
#include <csetjmp>
#include <cstdio>
#include <cmath>
#include <vector>

#include <jpeglib.h>

#include "data/image.h"

namespace skipnorm::data {

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void onError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

void onMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  // A warning means corrupt data (premature end of file, bad Huffman code): stop here.
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

// The smallest M in 1, 2, 4, 8 with size * M / 8 >= needed, for both sides. libjpeg-turbo has
// SIMD inverse DCTs for these scales only: at 3/8, 5/8, 6/8 or 7/8 its plain C transforms take
// longer than decoding at full size with SIMD.
int dctScale(int64_t height, int64_t width, int64_t outHeight, int64_t outWidth) {
  for (int m = 1; m < 8; m *= 2) {
    if (height * m >= outHeight * 8 && width * m >= outWidth * 8) return m;
  }
  return 8;
}

// (a * b) / 255 rounded, in integers: PIL's MULDIV255.
inline int mulDiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

// One row of CMYK to RGB as PIL converts it: each channel (255 - k) * (255 - c) / 255. Files
// with Adobe's marker (every CMYK or YCCK file Photoshop writes) store the inks inverted.
void cmykToRgb(const uint8_t* in, uint8_t* out, int64_t pixels, bool inverted) {
  for (int64_t x = 0; x < pixels; ++x, in += 4, out += 3) {
    const int k = inverted ? 255 - in[3] : in[3], notK = 255 - k;
    for (int c = 0; c < 3; ++c) {
      const int ink = inverted ? 255 - in[c] : in[c];
      out[c] = static_cast<uint8_t>(notK - mulDiv255(ink, notK));
    }
  }
}

}  // namespace

ImageView decodeJpeg(const uint8_t* bytes, size_t size, const CropPlan& plan, PixelBuffer& into) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  // Declared before setjmp: a longjmp must not skip their destructors.
  ImageView out;
  std::vector<uint8_t> cmykRow;
  std::optional<Crop> crop;
  std::string failure;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = onError;
  err.pub.emit_message = onMessage;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw CorruptImage(std::string("corrupt JPEG: ") + err.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (static_cast<int64_t>(cinfo.image_width) * cinfo.image_height > kMaxImagePixels) {
    failure = "JPEG of " + std::to_string(cinfo.image_width) + " x " + std::to_string(cinfo.image_height) + " pixels is too large";
  } else {
    const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    const bool inverted = cmyk && cinfo.saw_Adobe_marker;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    if (plan) crop = plan(cinfo.image_height, cinfo.image_width);
    int m = 8;
    if (crop) m = dctScale(crop->height, crop->width, crop->outHeight, crop->outWidth);
    cinfo.scale_num = m;
    cinfo.scale_denom = 8;
    jpeg_start_decompress(&cinfo);
    const int64_t fullH = cinfo.output_height, fullW = cinfo.output_width;
    // The region in scaled coordinates (the whole image without a plan).
    int64_t y0 = 0, y1 = fullH, x0 = 0, x1 = fullW;
    if (crop) {
      y0 = std::min<int64_t>(fullH - 1, crop->top * m / 8);
      x0 = std::min<int64_t>(fullW - 1, crop->left * m / 8);
      y1 = std::clamp<int64_t>((crop->top + crop->height) * m / 8 + ((crop->top + crop->height) * m % 8 != 0), y0 + 1, fullH);
      x1 = std::clamp<int64_t>((crop->left + crop->width) * m / 8 + ((crop->left + crop->width) * m % 8 != 0), x0 + 1, fullW);
    }
    // Decode only the columns [x0, x1) (widened by libjpeg to iMCU boundaries) and rows [y0, y1).
    JDIMENSION xoffset = static_cast<JDIMENSION>(x0), cropWidth = static_cast<JDIMENSION>(x1 - x0);
    if (x0 > 0 || x1 < fullW) jpeg_crop_scanline(&cinfo, &xoffset, &cropWidth);
    if (y0 > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(y0));
    const int64_t rows = y1 - y0, rowWidth = cropWidth;
    uint8_t* data = into.reserve(static_cast<size_t>(rows * rowWidth * 3));
    if (cmyk) cmykRow.resize(static_cast<size_t>(rowWidth) * 4);
    while (cinfo.output_scanline < static_cast<JDIMENSION>(y1)) {
      uint8_t* rgb = data + static_cast<int64_t>(cinfo.output_scanline - y0) * rowWidth * 3;
      JSAMPROW row = cmyk ? cmykRow.data() : rgb;
      jpeg_read_scanlines(&cinfo, &row, 1);
      if (cmyk) cmykToRgb(cmykRow.data(), rgb, rowWidth, inverted);
    }
    // libjpeg decoded from the iMCU boundary at xoffset: the view starts at x0.
    out = ImageView{data, rows, rowWidth, 3, rowWidth * 3}.crop(0, x0 - static_cast<int64_t>(xoffset), rows, x1 - x0);
  }
  jpeg_abort_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (!failure.empty()) throw CorruptImage(failure);
  return out;
}

}  // namespace skipnorm::data
