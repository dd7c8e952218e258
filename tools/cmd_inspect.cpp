#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "core/formats/idx.h"
#include "core/formats/npy.h"
#include "core/formats/safetensors.h"
#include "tools/commands.h"

namespace cudl::cli {

namespace {

enum class Format { Safetensors, Npy, Idx };

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// By extension where it is unambiguous, else by the first bytes: IDX files
// (MNIST's "train-images-idx3-ubyte[.gz]") have no extension of their own.
Format detect_format(const std::string& path) {
  if (ends_with(path, ".safetensors")) return Format::Safetensors;
  if (ends_with(path, ".npy")) return Format::Npy;
  unsigned char head[6] = {};
  std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(head), sizeof head);
  if (head[0] == 0x93 && std::equal(head + 1, head + 6, "NUMPY")) return Format::Npy;
  if ((head[0] == 0x1f && head[1] == 0x8b) || (head[0] == 0 && head[1] == 0)) return Format::Idx;
  return Format::Safetensors;
}

// "min -1.2 max 3.4 mean 0.05" over the values, for a quick sanity look.
std::string summary(const Tensor& t) {
  if (t.numel() == 0) return "empty";
  double lo = 0, hi = 0, sum = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    double v = 0;
    switch (t.dtype()) {
      case DType::F32: v = t.data<float>()[i]; break;
      case DType::I64: v = static_cast<double>(t.data<std::int64_t>()[i]); break;
      case DType::U8: v = t.data<std::uint8_t>()[i]; break;
    }
    lo = i == 0 ? v : std::min(lo, v);
    hi = i == 0 ? v : std::max(hi, v);
    sum += v;
  }
  char line[128];
  std::snprintf(line, sizeof line, "min %.4g  max %.4g  mean %.4g", lo, hi, sum / static_cast<double>(t.numel()));
  return line;
}

void print_tensor(const std::string& name, const Tensor& t, std::size_t name_width) {
  std::printf("  %-*s  %-7s  %-16s  %s\n", static_cast<int>(name_width), name.c_str(), dtype_name(t.dtype()),
              shape_str(t.shape()).c_str(), summary(t).c_str());
}

void inspect(const std::string& path) {
  switch (detect_format(path)) {
    case Format::Safetensors: {
      const SafetensorsFile file = read_safetensors(path);
      std::printf("%s: safetensors, %zu tensor%s\n", path.c_str(), file.tensors.size(),
                  file.tensors.size() == 1 ? "" : "s");
      for (const auto& [key, value] : file.metadata) std::printf("  metadata %s = %s\n", key.c_str(), value.c_str());
      std::size_t width = 4;
      for (const auto& [name, t] : file.tensors) width = std::max(width, name.size());
      for (const auto& [name, t] : file.tensors) print_tensor(name, t, width);
      break;
    }
    case Format::Npy: {
      const Tensor t = read_npy(path);  // before printing: a malformed file gives one line
      std::printf("%s: npy\n", path.c_str());
      print_tensor("array", t, 5);
      break;
    }
    case Format::Idx: {
      const Tensor t = read_idx(path);
      std::printf("%s: idx\n", path.c_str());
      print_tensor("data", t, 5);
      break;
    }
  }
}

}  // namespace

int cmd_inspect(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf(
        "usage: cudl inspect FILE...\n\n"
        "Lists the tensors in .safetensors, .npy and IDX (MNIST, optionally gzipped) files:\n"
        "name, dtype, shape, a summary of the values, and safetensors metadata.\n"
        "A malformed file stops with a one-line error and exit status 1.\n");
    return args.empty() ? 2 : 0;
  }
  for (const std::string& path : args) inspect(path);
  return 0;
}

}  // namespace cudl::cli
