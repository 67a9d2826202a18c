// PNG through libpng 1.6 (Debian's libpng-dev): any bit depth and colour type becomes 8-bit RGB
// as PIL's convert('RGB') gives it (palettes and grey expand, alpha and transparency are dropped),
// except 16-bit samples, which keep their high byte (scaled, where PIL clips 16-bit grey at 255).
// Rows are read one at a time into the image (interlaced files pass over them several times):
// memory is the image and nothing that grows with its height. Errors longjmp out of libpng;
// objects with destructors live outside.
#include <png.h>

#include <csetjmp>
#include <cstring>

#include "data/image.h"

namespace skipnorm::data {

namespace {

struct Reader {
  const uint8_t* bytes;
  size_t size, offset;
  char message[256];
};

void readBytes(png_structp png, png_bytep out, png_size_t length) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (r->offset + length > r->size) png_error(png, "truncated file");
  std::memcpy(out, r->bytes + r->offset, length);
  r->offset += length;
}

void onError(png_structp png, png_const_charp message) {
  auto* r = static_cast<Reader*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof(r->message), "%s", message);
  png_longjmp(png, 1);
}

void onWarning(png_structp, png_const_charp) {}

}  // namespace

ImageView decodePng(const uint8_t* bytes, size_t size, PixelBuffer& into) {
  Reader reader{bytes, size, 0, "unknown error"};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, onError, onWarning);
  if (!png) throw std::bad_alloc();
  png_infop info = png_create_info_struct(png);
  ImageView out;
  bool tooLarge = false;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw CorruptImage(std::string("corrupt PNG: ") + reader.message);
  }
  png_set_read_fn(png, &reader, readBytes);
  png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
  png_read_info(png, info);
  const int64_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  if (width * height > kMaxImagePixels) {
    tooLarge = true;
  } else {
    const int colorType = png_get_color_type(png, info);
    png_set_strip_16(png);
    png_set_packing(png);
    if (colorType == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (colorType == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (colorType == PNG_COLOR_TYPE_GRAY || colorType == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    const int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != static_cast<size_t>(width) * 3) png_error(png, "unsupported pixel layout");
    uint8_t* data = into.reserve(static_cast<size_t>(height * width * 3));
    out = ImageView{data, height, width, 3, width * 3};
    for (int pass = 0; pass < passes; ++pass) {
      for (int64_t y = 0; y < height; ++y) png_read_row(png, data + y * width * 3, nullptr);
    }
    png_read_end(png, nullptr);
  }
  png_destroy_read_struct(&png, &info, nullptr);
  if (tooLarge) throw CorruptImage("PNG of " + std::to_string(width) + " x " + std::to_string(height) + " pixels is too large");
  return out;
}

}  // namespace skipnorm::data
