#include "tools/golden_case.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/formats/io_util.h"
#include "core/formats/safetensors.h"

namespace cudl::cli {

namespace {

CaseLayout split_case(TensorMap tensors, bool is_loss) {
  auto is_output = [](const std::string& name) { return name == "out" || name.rfind("out_", 0) == 0; };
  const bool has_backward = tensors.count("dout") != 0 || is_loss;
  CaseLayout layout;
  std::vector<std::string> names;
  for (const auto& [name, t] : tensors) names.push_back(name);
  for (const std::string& name : names) {
    const bool gradient = has_backward && name != "dout" && name.size() > 1 && name[0] == 'd' &&
                          tensors.count(name.substr(1)) != 0 && !is_output(name.substr(1));
    Tensor t = std::move(tensors.at(name));
    if (is_output(name) || gradient) {
      layout.expected.emplace(name, std::move(t));
      layout.backward = layout.backward || gradient;
    } else {
      layout.inputs.emplace(name, std::move(t));
    }
  }
  return layout;
}

}  // namespace

double default_rtol(std::int64_t input_elements, std::int64_t result_elements, double l2_tolerance) {
  const double half_ulp = std::ldexp(1.0, -24);
  const double k = std::max(1.0, static_cast<double>(input_elements) /
                                     static_cast<double>(std::max<std::int64_t>(result_elements, 1)));
  return std::min(l2_tolerance, 64 * half_ulp * std::sqrt(k));
}

GoldenCase read_golden_case(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  GoldenCase c;
  const auto op_it = file.metadata.find("op");
  CUDL_CHECK(op_it != file.metadata.end(), path, ": no 'op' in the metadata");
  c.op_name = op_it->second;
  c.op = find_op(c.op_name);
  if (c.op == nullptr) return c;
  for (const auto& [key, value] : file.metadata) {
    if (key == "tol" || key == "rtol" || key == "atol") {
      const double bound = Attrs{{key, value}}.get_float(path.c_str(), key);
      // A NaN would fail every comparison, and so blame the op for a malformed case.
      CUDL_CHECK(std::isfinite(bound) && bound > 0, path, ": ", key, " must be a positive finite number, got '",
                 formats::excerpt(value), "'");
      if (key == "tol") c.tolerance = bound;
      if (key == "rtol") c.rtol = bound;
      if (key == "atol") c.atol = bound;
    } else if (key != "op") {
      c.attrs.set(key, value);
    }
  }
  if (file.metadata.count("tol") != 0 && !c.rtol) c.rtol = c.tolerance;
  c.layout = split_case(std::move(file.tensors), c.op->is_loss);
  CUDL_CHECK(!c.layout.expected.empty(), path, ": no 'out', 'out_*' or gradient to compare with");
  return c;
}

}  // namespace cudl::cli
