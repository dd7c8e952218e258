// PNG figures for training runs, drawn without a plotting library: line plots
// with axes, ticks, tick labels, a title and a legend in a built-in 5x7 bitmap
// font. Image grids of samples are in train/image_grid.h. Written with libpng
// (train/png.h); files are replaced atomically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>


namespace cudl {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

struct Series {
  std::string label;      // shown in the legend
  std::vector<double> x;  // empty: 0, 1, 2, ...
  std::vector<double> y;
  Rgb color{31, 119, 180};
  int thickness = 1;      // line width in pixels
  bool markers = false;   // a small square at each point
};

struct PlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 800;
  int height = 500;
};

// Lines through each series' points; axis ranges cover all finite values
// (non-finite points break the line).
void write_line_plot(const std::string& path, const std::vector<Series>& series, const PlotOptions& options = {});

// Exponential moving average with bias correction (as TensorBoard's smoothing):
// s_i = weight * s_{i-1} + (1 - weight) * y_i, divided by 1 - weight^(i+1).
std::vector<double> smooth(const std::vector<double>& values, double weight = 0.9);

// Loss per iteration, faint, with its smoothed curve on top.
void plot_loss(const std::string& path, const std::vector<double>& losses, const std::string& title = "Training loss");
// Train and validation accuracy per epoch (fractions in [0, 1], epochs 1, 2, ...).
void plot_accuracy(const std::string& path, const std::vector<double>& train_accuracy,
                   const std::vector<double>& val_accuracy, const std::string& title = "Accuracy");

}  // namespace cudl
