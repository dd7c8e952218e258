#include "train/png.h"

#include <png.h>

#include <cstring>

#include "core/check.h"
#include "core/formats/atomic_file.h"
#include "core/formats/io_util.h"

namespace cudl {

void write_png(const std::string& path, int width, int height, int channels, const std::uint8_t* pixels) {
  CUDL_CHECK(width > 0 && height > 0 && (channels == 1 || channels == 3 || channels == 4),
             "write_png: expected a positive size and 1, 3 or 4 channels, got ", width, " x ", height, " x ", channels);
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  png_alloc_size_t size = 0;
  // A first call with no buffer measures the encoded size.
  bool ok = png_image_write_to_memory(&image, nullptr, &size, 0, pixels, 0, nullptr);
  std::vector<std::uint8_t> encoded(size);
  ok = ok && png_image_write_to_memory(&image, encoded.data(), &size, 0, pixels, 0, nullptr);
  const std::string message = image.message;
  png_image_free(&image);
  CUDL_CHECK(ok, "write_png: libpng failed to encode ", path, ": ", message);
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(encoded.data()), static_cast<std::streamsize>(size));
  });
}

PngImage decode_png(const std::uint8_t* data, std::size_t size, int channels, const std::string& source,
                    bool black_background) {
  CUDL_CHECK(channels == 1 || channels == 3, "decode_png: expected 1 or 3 channels, got ", channels);
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size))
    formats::file_error(source, "not a PNG libpng can read: ", image.message);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  const std::uint64_t bytes = static_cast<std::uint64_t>(image.width) * image.height * static_cast<std::uint64_t>(channels);
  if (bytes > (1ull << 28)) {
    png_image_free(&image);
    formats::file_error(source, image.width, " x ", image.height, " pixels decode to ", formats::bytes_str(bytes),
                        ", over the 2^28-byte limit");
  }
  PngImage out{static_cast<int>(image.width), static_cast<int>(image.height), channels,
               std::vector<std::uint8_t>(static_cast<std::size_t>(bytes))};
  const png_byte shade = black_background ? 0 : 255;
  png_color background{shade, shade, shade};
  if (!png_image_finish_read(&image, &background, out.pixels.data(), 0, nullptr))
    formats::file_error(source, "libpng failed to decode: ", image.message);
  return out;
}

PngImage read_png(const std::string& path, int channels, bool black_background) {
  const std::vector<std::uint8_t> bytes = formats::read_all(path, 1ull << 30);
  return decode_png(bytes.data(), bytes.size(), channels, path, black_background);
}

Tensor png_to_tensor(const PngImage& image) {
  const std::int64_t c = image.channels, h = image.height, w = image.width;
  Tensor out = Tensor::empty({c, h, w});
  float* dst = out.data<float>();
  for (std::int64_t ch = 0; ch < c; ++ch)
    for (std::int64_t p = 0; p < h * w; ++p) dst[ch * h * w + p] = image.pixels[static_cast<std::size_t>(p * c + ch)] * (1.0f / 255.0f);
  return out;
}

}  // namespace cudl
