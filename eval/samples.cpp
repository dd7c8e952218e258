#include "eval/samples.h"

#include <png.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/check.h"
#include "core/formats/npy.h"

namespace cudl {

namespace fs = std::filesystem;

namespace {

// One greyscale PNG into `out` (height * width bytes).
void read_grey_png(const std::string& path, std::int64_t height, std::int64_t width, std::uint8_t* out) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  CUDL_CHECK(png_image_begin_read_from_file(&image, path.c_str()), "read_png_samples: ", path,
             " is not a readable PNG: ", image.message);
  const bool grey = (image.format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)) == 0;
  const png_uint_32 w = image.width, h = image.height;
  if (!grey || w != width || h != height) {
    const bool colour = image.format & PNG_FORMAT_FLAG_COLOR;
    png_image_free(&image);
    CUDL_CHECK(grey, "read_png_samples: ", path, " is ", colour ? "colour" : "grey with alpha",
               ", expected greyscale without alpha");
    detail::throw_error("read_png_samples: ", path, " is ", w, "x", h, " (width x height), expected ", width, "x",
                        height);
  }
  image.format = PNG_FORMAT_GRAY;  // 16-bit grey comes back as 8 bits
  const bool ok = png_image_finish_read(&image, nullptr, out, 0, nullptr);
  const std::string message = image.message;
  png_image_free(&image);
  CUDL_CHECK(ok, "read_png_samples: cannot decode ", path, ": ", message);
}

}  // namespace

Tensor read_png_samples(const std::string& dir, std::int64_t height, std::int64_t width) {
  CUDL_CHECK(fs::is_directory(dir), "read_png_samples: ", dir, " is not a folder");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".png") files.push_back(entry.path().string());
  CUDL_CHECK(!files.empty(), "read_png_samples: no .png files in ", dir);
  std::sort(files.begin(), files.end());

  const std::int64_t n = static_cast<std::int64_t>(files.size()), pixels = height * width;
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(n * pixels));
  for (std::int64_t i = 0; i < n; ++i) read_grey_png(files[i], height, width, bytes.data() + i * pixels);
  Tensor images = Tensor::empty({n, 1, height, width});
  float* x = images.data<float>();
  for (std::size_t i = 0; i < bytes.size(); ++i) x[i] = bytes[i] / 255.0f;
  return images;
}

Tensor read_npy_samples(const std::string& path, std::int64_t height, std::int64_t width) {
  const Tensor array = read_npy(path);
  const Shape& s = array.shape();
  const bool nchw = s.size() == 4 && s[1] == 1 && s[2] == height && s[3] == width;
  const bool nhw = s.size() == 3 && s[1] == height && s[2] == width;
  CUDL_CHECK((nchw || nhw) && s[0] >= 1, "read_npy_samples: ", path, " holds ", array.str(), ", expected [N,1,",
             height, ",", width, "] or [N,", height, ",", width, "] images");
  CUDL_CHECK(array.dtype() == DType::F32 || array.dtype() == DType::U8, "read_npy_samples: ", path, " holds ",
             array.str(), ", expected float32 in [0, 1] or uint8");
  Tensor images = Tensor::empty({s[0], 1, height, width});
  float* x = images.data<float>();
  if (array.dtype() == DType::U8) {
    const std::uint8_t* b = array.data<std::uint8_t>();
    for (std::int64_t i = 0; i < array.numel(); ++i) x[i] = b[i] / 255.0f;
    return images;
  }
  const float* v = array.data<float>();
  for (std::int64_t i = 0; i < array.numel(); ++i) {
    // NaN fails this test too.
    CUDL_CHECK(v[i] >= 0.0f && v[i] <= 1.0f, "read_npy_samples: ", path, " has value ", v[i], " at element ", i,
               ", expected [0, 1] (map a tanh output x to (x + 1) / 2)");
    x[i] = v[i];
  }
  return images;
}

Tensor read_samples(const std::string& path, std::int64_t height, std::int64_t width) {
  if (fs::path(path).extension() == ".npy") return read_npy_samples(path, height, width);
  CUDL_CHECK(fs::is_directory(path), "read_samples: ", path, " is neither a .npy file nor a folder of PNGs");
  return read_png_samples(path, height, width);
}

}  // namespace cudl
