// Plots and image grids: the PNG is written, reads back with libpng at the size
// asked for, and holds a drawing rather than a blank page.
#include <png.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "core/random.h"
#include "tests/test_util.h"
#include "train/image_grid.h"
#include "train/plot.h"
#include "train/png.h"

using namespace cudl;
namespace fs = std::filesystem;

namespace {

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
};

Image read_rgb(const std::string& path) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    ADD_FAILURE() << "libpng cannot read " << path << ": " << image.message;
    return {};
  }
  image.format = PNG_FORMAT_RGB;
  Image out{static_cast<int>(image.width), static_cast<int>(image.height), std::vector<std::uint8_t>(PNG_IMAGE_SIZE(image))};
  if (!png_image_finish_read(&image, nullptr, out.rgb.data(), 0, nullptr)) ADD_FAILURE() << image.message;
  return out;
}

std::size_t distinct_colors(const Image& img) {
  std::set<std::uint32_t> colors;
  for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3) colors.insert(img.rgb[i] << 16 | img.rgb[i + 1] << 8 | img.rgb[i + 2]);
  return colors.size();
}

std::size_t non_white(const Image& img) {
  std::size_t n = 0;
  for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3) n += !(img.rgb[i] == 255 && img.rgb[i + 1] == 255 && img.rgb[i + 2] == 255);
  return n;
}

class Plot : public test::ScratchDirTest {};

}  // namespace

TEST_F(Plot, LossCurveIsDrawn) {
  std::vector<double> losses;
  for (int i = 0; i < 500; ++i) losses.push_back(2.3 * std::exp(-i / 120.0) + 0.2 * std::sin(i * 0.7));
  plot_loss(path("loss.png"), losses);
  const Image img = read_rgb(path("loss.png"));
  EXPECT_EQ(img.width, 800);
  EXPECT_EQ(img.height, 500);
  EXPECT_GT(non_white(img), 3000u);      // axes, grid, text and two curves
  EXPECT_GE(distinct_colors(img), 5u);   // white, grid, axis, raw and smoothed colours
}

TEST_F(Plot, AccuracyPlotHasBothSeries) {
  plot_accuracy(path("acc.png"), {0.35, 0.52, 0.61, 0.66}, {0.33, 0.47, 0.50, 0.51});
  const Image img = read_rgb(path("acc.png"));
  ASSERT_EQ(img.width, 800);
  std::size_t blue = 0, orange = 0;
  for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3) {
    blue += img.rgb[i] == 31 && img.rgb[i + 1] == 119 && img.rgb[i + 2] == 180;
    orange += img.rgb[i] == 255 && img.rgb[i + 1] == 127 && img.rgb[i + 2] == 14;
  }
  EXPECT_GT(blue, 100u);
  EXPECT_GT(orange, 100u);
}

TEST_F(Plot, HandlesDegenerateSeries) {
  write_line_plot(path("flat.png"), {{"flat", {}, {1.0, 1.0, 1.0}}, {"nan", {}, {NAN, 2.0, INFINITY}}}, {"Flat", "x", "y", 300, 200});
  const Image img = read_rgb(path("flat.png"));
  EXPECT_EQ(img.width, 300);
  EXPECT_EQ(img.height, 200);
  EXPECT_THROW(write_line_plot(path("bad.png"), {{"xy", {1.0}, {1.0, 2.0}}}), Error);
}

TEST_F(Plot, SmoothingIsABiasCorrectedAverage) {
  const std::vector<double> s = smooth({4.0, 4.0, 4.0}, 0.9);
  for (double v : s) EXPECT_NEAR(v, 4.0, 1e-12);  // no pull towards zero at the start
  const std::vector<double> t = smooth({0.0, 10.0}, 0.5);
  EXPECT_NEAR(t[1], (0.5 * 0.5 * 0.0 + 0.5 * 10.0) / (1 - 0.25), 1e-12);
}

TEST_F(Plot, ImageGridLaysOutTiles) {
  Generator gen(1);
  Tensor rgb = rand({5, 3, 8, 6}, gen);
  write_image_grid(path("grid.png"), rgb, {.columns = 3, .padding = 2});
  const Image img = read_rgb(path("grid.png"));
  EXPECT_EQ(img.width, 3 * 6 + 4 * 2);
  EXPECT_EQ(img.height, 2 * 8 + 3 * 2);
  EXPECT_GT(distinct_colors(img), 100u);

  Tensor gray = Tensor::full({4, 1, 4, 4}, 0.5f);
  write_image_grid(path("gray.png"), gray, {.columns = 0, .padding = 1});  // 2 columns by default
  const Image g = read_rgb(path("gray.png"));
  EXPECT_EQ(g.width, 2 * 4 + 3);
  const std::size_t at = (1 * g.width + 1) * 3;  // first pixel of the first tile
  EXPECT_EQ(g.rgb[at], 128);
  EXPECT_EQ(g.rgb[at + 1], 128);
  EXPECT_THROW(write_image_grid(path("bad.png"), Tensor::zeros({2, 2, 4, 4})), Error);
}

TEST_F(Plot, ImageGridScalesPixels) {
  Tensor one = Tensor::zeros({1, 1, 2, 2});
  one.data<float>()[3] = 1.0f;  // bottom-right pixel white
  write_image_grid(path("scaled.png"), one, {.padding = 0, .scale = 3});
  const Image img = read_rgb(path("scaled.png"));
  ASSERT_EQ(img.width, 6);
  EXPECT_EQ(img.rgb[(2 * 6 + 2) * 3], 0);    // still the black top-left pixel
  EXPECT_EQ(img.rgb[(3 * 6 + 3) * 3], 255);  // the white one, three times as large
}

TEST_F(Plot, CaptionedGridDrawsTextUnderImages) {
  if (!fs::exists(kCaptionFontPath)) GTEST_SKIP() << kCaptionFontPath << " missing: run scripts/setup.sh";
  Tensor images = Tensor::full({2, 3, 8, 8}, 1.0f);  // white images on the white page: only text is dark
  const CaptionGridOptions options;
  write_captioned_grid(path("captions.png"), images, {{"a cat on a mat"}, {"grinning face with big eyes", "ref: a dog"}},
                       options);
  const Image img = read_rgb(path("captions.png"));
  const int cell = options.min_cell_width, pad = options.grid.padding;
  EXPECT_EQ(img.width, 2 * cell + 3 * pad);
  EXPECT_GT(img.height, 8 * options.grid.scale + 2 * options.font_pixels);
  // Dark text pixels below each image; the second cell also has the reference colour (green).
  std::size_t dark_left = 0, dark_right = 0, green = 0;
  for (int y = pad + 8 * options.grid.scale; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const std::uint8_t* p = &img.rgb[(static_cast<std::size_t>(y) * img.width + x) * 3];
      const bool dark = p[0] < 100 && p[1] < 100 && p[2] < 100;
      (x < pad + cell ? dark_left : dark_right) += dark;
      green += p[1] > p[0] + 40 && p[1] > p[2] + 40;
    }
  EXPECT_GT(dark_left, 30u);
  EXPECT_GT(dark_right, 30u);
  EXPECT_GT(green, 10u);
  EXPECT_THROW(write_captioned_grid(path("bad.png"), images, {{"one caption for two images"}}), Error);
}

TEST_F(Plot, PngReaderRoundTripAndBadBytes) {
  // An RGBA pixel at half alpha over white and black; a grey one read as grey.
  const std::vector<std::uint8_t> rgba{255, 0, 0, 128, 10, 20, 30, 255};
  write_png(path("rgba.png"), 2, 1, 4, rgba.data());
  const PngImage white = read_png(path("rgba.png"));
  ASSERT_EQ(white.pixels.size(), 6u);
  EXPECT_EQ(white.pixels[0], 255);
  EXPECT_NEAR(white.pixels[1], 186, 1);  // libpng mixes in linear light: sRGB of 0.5 is 186
  EXPECT_EQ(std::vector<std::uint8_t>(white.pixels.begin() + 3, white.pixels.end()), (std::vector<std::uint8_t>{10, 20, 30}));
  const PngImage black = read_png(path("rgba.png"), 3, /*black_background=*/true);
  EXPECT_EQ(black.pixels[1], 0);
  const Tensor t = png_to_tensor(read_png(path("rgba.png"), 1));
  EXPECT_EQ(t.shape(), (Shape{1, 1, 2}));
  const std::vector<std::uint8_t> junk{0x89, 'P', 'N', 'G', 1, 2, 3};
  EXPECT_NE(test::error_of([&] { decode_png(junk.data(), junk.size(), 3, "junk.png"); }).find("junk.png: not a PNG"),
            std::string::npos);
  EXPECT_THROW(read_png(path("missing.png")), Error);
}
