// Plots are drawn into an RGB canvas and encoded by train/png.h.
#include "train/plot.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

#include "core/check.h"
#include "train/png.h"

namespace cudl {

namespace {

// ---- a 5x7 bitmap font: each glyph is 7 rows, bit 4 the leftmost pixel ----
constexpr std::string_view kGlyphChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-%:/()_,+= ?";
constexpr std::uint8_t kGlyphs[][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},  // 0
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},  // 1
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},  // 2
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},  // 3
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},  // 4
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},  // 5
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},  // 6
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},  // 7
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},  // 8
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},  // 9
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},  // A
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},  // B
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E},  // C
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},  // D
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},  // E
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},  // F
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},  // G
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},  // H
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},  // I
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},  // J
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},  // K
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},  // L
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},  // M
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},  // N
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},  // O
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},  // P
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D},  // Q
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},  // R
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},  // S
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // T
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},  // U
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},  // V
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A},  // W
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},  // X
    {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04},  // Y
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},  // Z
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C},  // .
    {0x00, 0x00, 0x00, 0x0E, 0x00, 0x00, 0x00},  // -
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},  // %
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00},  // :
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},  // /
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},  // (
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},  // )
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F},  // _
    {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08},  // ,
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00},  // +
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00},  // =
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // space
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},  // ? (also any character without a glyph)
};
static_assert(sizeof(kGlyphs) / sizeof(kGlyphs[0]) == kGlyphChars.size());
constexpr int kGlyphW = 5, kGlyphH = 7, kAdvance = 6;  // one pixel between letters

// Lower case is drawn as upper case: the font is small enough to read either way.
const std::uint8_t* glyph(char c) {
  const std::size_t i = kGlyphChars.find(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return kGlyphs[i == std::string_view::npos ? kGlyphChars.size() - 1 : i];
}

int text_width(const std::string& text, int scale) {
  return text.empty() ? 0 : (static_cast<int>(text.size()) * kAdvance - 1) * scale;
}

constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrid{225, 225, 225}, kAxis{60, 60, 60};

class Canvas {
 public:
  Canvas(int width, int height, Rgb background)
      : width_(width), height_(height), pixels_(static_cast<std::size_t>(width) * height * 3) {
    fill_rect(0, 0, width, height, background);
  }
  int width() const { return width_; }
  int height() const { return height_; }
  const std::uint8_t* data() const { return pixels_.data(); }

  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    std::uint8_t* p = &pixels_[(static_cast<std::size_t>(y) * width_ + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void fill_rect(int x, int y, int w, int h, Rgb c) {
    for (int j = y; j < y + h; ++j)
      for (int i = x; i < x + w; ++i) set(i, j, c);
  }
  // Bresenham, with a square pen of `thickness` pixels.
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    const int lo = -(thickness - 1) / 2, hi = thickness / 2;
    for (int err = dx + dy;;) {
      fill_rect(x0 + lo, y0 + lo, hi - lo + 1, hi - lo + 1, c);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  // Text with its top-left corner at (x, y); `vertical` reads bottom to top.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1, bool vertical = false) {
    for (std::size_t k = 0; k < s.size(); ++k) {
      const std::uint8_t* rows = glyph(s[k]);
      const int advance = static_cast<int>(k) * kAdvance * scale;
      for (int r = 0; r < kGlyphH; ++r)
        for (int col = 0; col < kGlyphW; ++col) {
          if (!(rows[r] & (0x10 >> col))) continue;
          if (vertical)  // rotated 90 degrees counter-clockwise about (x, y)
            fill_rect(x + r * scale, y - advance - (col + 1) * scale, scale, scale, c);
          else
            fill_rect(x + advance + col * scale, y + r * scale, scale, scale, c);
        }
    }
  }

 private:
  int width_, height_;
  std::vector<std::uint8_t> pixels_;
};

// Tick spacing of 1, 2 or 5 times a power of ten giving about `target` ticks.
double nice_step(double range, int target) {
  const double raw = range / target, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * magnitude) return m * magnitude;
  return 10.0 * magnitude;
}

std::string tick_label(double value, double step) {
  char buffer[32];
  if (std::abs(value) < step * 1e-6) value = 0.0;  // no "-0.0" or "1e-17" at the origin
  const double magnitude = std::max(std::abs(value), step);
  if (magnitude >= 1e5 || step < 1e-4)
    std::snprintf(buffer, sizeof(buffer), "%.2g", value);
  else
    std::snprintf(buffer, sizeof(buffer), "%.*f", std::max(0, -static_cast<int>(std::floor(std::log10(step)))), value);
  return buffer;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  // A usable interval even for no points or a constant series.
  void settle(double pad_fraction) {
    if (!(lo <= hi)) lo = 0.0, hi = 1.0;
    if (hi - lo < 1e-12) {
      const double pad = std::max(std::abs(lo) * 0.1, 0.5);
      lo -= pad, hi += pad;
    }
    const double pad = (hi - lo) * pad_fraction;
    lo -= pad, hi += pad;
  }
};

double x_of(const Series& s, std::size_t i) { return s.x.empty() ? static_cast<double>(i) : s.x[i]; }

Rgb lighter(Rgb c, double keep) {
  auto mix = [&](std::uint8_t v) { return static_cast<std::uint8_t>(std::lround(v * keep + 255.0 * (1.0 - keep))); };
  return {mix(c.r), mix(c.g), mix(c.b)};
}

}  // namespace

void write_line_plot(const std::string& path, const std::vector<Series>& series, const PlotOptions& options) {
  CUDL_CHECK(options.width >= 200 && options.height >= 150, "write_line_plot: expected at least 200 x 150 pixels, got ",
             options.width, " x ", options.height);
  Range xr, yr;
  for (const Series& s : series) {
    CUDL_CHECK(s.x.empty() || s.x.size() == s.y.size(), "write_line_plot: series '", s.label, "' has ", s.x.size(),
               " x values but ", s.y.size(), " y values");
    for (std::size_t i = 0; i < s.y.size(); ++i)
      if (std::isfinite(s.y[i])) xr.add(x_of(s, i)), yr.add(s.y[i]);
  }
  xr.settle(0.02);
  yr.settle(0.05);

  Canvas canvas(options.width, options.height, kWhite);
  const int left = 72, right = options.width - 20, top = options.title.empty() ? 20 : 40, bottom = options.height - 46;
  auto px = [&](double x) { return left + static_cast<int>(std::lround((x - xr.lo) / (xr.hi - xr.lo) * (right - left))); };
  auto py = [&](double y) { return bottom - static_cast<int>(std::lround((y - yr.lo) / (yr.hi - yr.lo) * (bottom - top))); };

  // Grid lines and tick labels at multiples of a round step.
  const double xs = nice_step(xr.hi - xr.lo, 8), ys = nice_step(yr.hi - yr.lo, 6);
  for (double v = std::ceil(xr.lo / xs) * xs; v <= xr.hi + xs * 1e-9; v += xs) {
    const int x = px(v);
    canvas.line(x, top, x, bottom, kGrid);
    canvas.line(x, bottom, x, bottom + 4, kAxis);
    const std::string label = tick_label(v, xs);
    canvas.text(x - text_width(label, 1) / 2, bottom + 8, label, kAxis);
  }
  for (double v = std::ceil(yr.lo / ys) * ys; v <= yr.hi + ys * 1e-9; v += ys) {
    const int y = py(v);
    canvas.line(left, y, right, y, kGrid);
    canvas.line(left - 4, y, left, y, kAxis);
    const std::string label = tick_label(v, ys);
    canvas.text(left - 8 - text_width(label, 1), y - kGlyphH / 2, label, kAxis);
  }
  canvas.line(left, top, left, bottom, kAxis);
  canvas.line(left, bottom, right, bottom, kAxis);

  for (const Series& s : series) {
    bool pen_down = false;
    int last_x = 0, last_y = 0;
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(x_of(s, i))) {
        pen_down = false;  // a gap, not a line through the missing point
        continue;
      }
      const int x = px(x_of(s, i)), y = py(s.y[i]);
      if (pen_down) canvas.line(last_x, last_y, x, y, s.color, s.thickness);
      if (s.markers) canvas.fill_rect(x - 2, y - 2, 5, 5, s.color);
      pen_down = true, last_x = x, last_y = y;
    }
  }

  if (!options.title.empty())
    canvas.text((left + right) / 2 - text_width(options.title, 2) / 2, 10, options.title, kBlack, 2);
  if (!options.x_label.empty())
    canvas.text((left + right) / 2 - text_width(options.x_label, 1) / 2, options.height - 16, options.x_label, kBlack);
  if (!options.y_label.empty())
    canvas.text(8, (top + bottom) / 2 + text_width(options.y_label, 1) / 2, options.y_label, kBlack, 1, true);

  // Legend: top-right inside the axes, one row per labelled series.
  int rows = 0, widest = 0;
  for (const Series& s : series)
    if (!s.label.empty()) ++rows, widest = std::max(widest, text_width(s.label, 1));
  if (rows > 0) {
    // In whichever corner of the axes covers the fewest data points.
    const int w = widest + 40, h = rows * 14 + 8;
    int x0 = right - w - 8, y0 = top + 8;
    std::size_t fewest = std::numeric_limits<std::size_t>::max();
    for (const auto& [cx, cy] : {std::pair{right - w - 8, top + 8}, std::pair{left + 8, top + 8},
                                 std::pair{right - w - 8, bottom - h - 8}, std::pair{left + 8, bottom - h - 8}}) {
      std::size_t covered = 0;
      for (const Series& s : series)
        for (std::size_t i = 0; i < s.y.size(); ++i) {
          const int x = px(x_of(s, i)), y = std::isfinite(s.y[i]) ? py(s.y[i]) : -1;
          covered += x >= cx - 4 && x <= cx + w + 4 && y >= cy - 4 && y <= cy + h + 4;
        }
      if (covered < fewest) fewest = covered, x0 = cx, y0 = cy;
    }
    canvas.fill_rect(x0, y0, w, h, kWhite);
    canvas.line(x0, y0, x0 + w, y0, kAxis), canvas.line(x0, y0 + h, x0 + w, y0 + h, kAxis);
    canvas.line(x0, y0, x0, y0 + h, kAxis), canvas.line(x0 + w, y0, x0 + w, y0 + h, kAxis);
    int y = y0 + 6;
    for (const Series& s : series) {
      if (s.label.empty()) continue;
      canvas.line(x0 + 6, y + 3, x0 + 26, y + 3, s.color, std::max(s.thickness, 2));
      canvas.text(x0 + 32, y, s.label, kBlack);
      y += 14;
    }
  }
  write_png(path, canvas.width(), canvas.height(), 3, canvas.data());
}

std::vector<double> smooth(const std::vector<double>& values, double weight) {
  CUDL_CHECK(weight >= 0.0 && weight < 1.0, "smooth: expected a weight in [0, 1), got ", weight);
  std::vector<double> out;
  out.reserve(values.size());
  double average = 0.0, total_weight = 0.0;
  for (double v : values) {
    if (std::isfinite(v)) {
      average = weight * average + (1.0 - weight) * v;
      total_weight = weight * total_weight + (1.0 - weight);
    }
    out.push_back(total_weight > 0.0 ? average / total_weight : v);
  }
  return out;
}

void plot_loss(const std::string& path, const std::vector<double>& losses, const std::string& title) {
  const Rgb blue{31, 119, 180};
  Series raw{"loss", {}, losses, lighter(blue, 0.35)};
  Series smoothed{"smoothed", {}, smooth(losses), blue, 2};
  write_line_plot(path, {raw, smoothed}, {title, "iteration", "loss"});
}

void plot_accuracy(const std::string& path, const std::vector<double>& train_accuracy,
                   const std::vector<double>& val_accuracy, const std::string& title) {
  auto epochs = [](std::size_t n) {
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<double>(i + 1);
    return x;
  };
  Series train{"train", epochs(train_accuracy.size()), train_accuracy, {31, 119, 180}, 2, true};
  Series val{"val", epochs(val_accuracy.size()), val_accuracy, {255, 127, 14}, 2, true};
  write_line_plot(path, {train, val}, {title, "epoch", "accuracy"});
}

}  // namespace cudl
