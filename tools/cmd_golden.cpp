// `cudl golden PATH...`: runs every golden case (tests/golden/README.md) on every
// implementation of its op and compares with PyTorch's results.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"
#include "kernels/registry.h"
#include "tools/commands.h"
#include "tools/golden_case.h"

namespace cudl::cli {

namespace {

namespace fs = std::filesystem;

struct Options {
  std::vector<std::string> paths;
  std::optional<std::string> impl;
  bool verbose = false;
};

struct Tally {
  int passed = 0, failed = 0, skipped = 0;
};

// Files as given; folders searched recursively for *.safetensors, sorted so
// runs are reproducible.
std::vector<std::string> expand(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::recursive_directory_iterator(path))
        if (entry.is_regular_file() && entry.path().extension() == ".safetensors") found.push_back(entry.path().string());
      CUDL_CHECK(!found.empty(), path, ": no .safetensors golden cases in this folder");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      CUDL_CHECK(fs::exists(path, ec), path, ": no such file or folder");
      files.push_back(path);
    }
  }
  return files;
}

// The reporting order: out, out_<state>, then the gradients.
std::vector<std::string> result_order(const TensorMap& expected) {
  std::vector<std::string> names;
  for (const auto& [name, t] : expected) names.push_back(name);
  std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    auto rank = [](const std::string& n) { return n == "out" ? 0 : n.rfind("out_", 0) == 0 ? 1 : 2; };
    return rank(a) < rank(b);
  });
  return names;
}

struct Comparison {
  double error = 0;          // the relative L2 error, +inf/NaN when unusable
  double element_ratio = 0;  // max |computed - reference| / (atol + rtol |reference|): <= 1 passes
  std::int64_t worst_element = -1;
  std::string problem;  // non-empty when the result cannot pass whatever the tolerance
};

// Both bounds: the relative L2 error within `tol`, and every element within
// atol + rtol |reference| (golden_case.h: default_rtol).
Comparison compare(const TensorMap& computed, const std::string& name, const Tensor& reference,
                   const GoldenCase& c, std::int64_t input_elements) {
  auto it = computed.find(name);
  if (it == computed.end()) return {INFINITY, INFINITY, -1, "not computed"};
  const Tensor& t = it->second;
  if (t.shape() != reference.shape())
    return {INFINITY, INFINITY, -1, "shape " + shape_str(t.shape()) + ", expected " + shape_str(reference.shape())};
  if (t.dtype() != DType::F32 || reference.dtype() != DType::F32)
    return {INFINITY, INFINITY, -1, std::string("dtype ") + dtype_name(t.dtype()) + ", expected float32"};
  const float* pc = t.data<float>();
  const float* pr = reference.data<float>();
  const std::int64_t n = t.numel();
  double diff = 0, norm = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(pc[i])) return {NAN, NAN, i, "non-finite value at element " + std::to_string(i)};
    if (!std::isfinite(pr[i])) return {NAN, NAN, i, "the reference has a non-finite value at element " + std::to_string(i)};
    diff += (double(pc[i]) - pr[i]) * (double(pc[i]) - pr[i]);
    norm += double(pr[i]) * pr[i];
  }
  const double rms = n > 0 ? std::sqrt(norm / static_cast<double>(n)) : 0.0;
  const double rtol = c.rtol ? *c.rtol : default_rtol(input_elements, n, c.tolerance);
  const double atol = (c.atol ? *c.atol : rtol) * rms;
  Comparison result{std::sqrt(diff) / std::max(std::sqrt(norm), 1e-12), 0, -1, ""};
  for (std::int64_t i = 0; i < n; ++i) {
    const double allowed = atol + rtol * std::abs(double(pr[i]));
    const double ratio = std::abs(double(pc[i]) - pr[i]) / std::max(allowed, 1e-30);
    if (ratio > result.element_ratio) result.element_ratio = ratio, result.worst_element = i;
  }
  return result;
}

std::string format_error(double e) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1e", e);
  return text;
}

class Runner {
 public:
  explicit Runner(const Options& options, std::size_t name_width) : options_(options), name_width_(name_width) {}

  void run_file(const std::string& path) {
    const std::string name = fs::path(path).stem().string();
    try {
      run_case(path, name);
    } catch (const std::exception& e) {  // the file itself is unusable: unreadable, no op, a bad tol
      report("FAIL", name, "", std::string("(bad case: ") + e.what() + ")");
      ++tally_.failed;
    }
  }

  const Tally& tally() const { return tally_; }

 private:
  void run_case(const std::string& path, const std::string& name) {
    const GoldenCase c = read_golden_case(path);
    if (c.op == nullptr) {
      report("SKIP", name, "", "(op '" + c.op_name + "' is not in this build's registry)");
      ++tally_.skipped;
      return;
    }
    const OpDef* op = c.op;

    bool any = false;
    for (const Implementation& impl : op->implementations) {
      if (options_.impl && impl.name != *options_.impl) continue;
      any = true;
      run_implementation(name, *op, impl, c);
    }
    if (!any) {
      report("SKIP", name, *options_.impl, "(op '" + op->name + "' has no implementation of that name)");
      ++tally_.skipped;
    }
  }

  void run_implementation(const std::string& name, const OpDef& op, const Implementation& impl,
                          const GoldenCase& golden) {
    const CaseLayout& layout = golden.layout;
    const Attrs& attrs = golden.attrs;
    const double tolerance = golden.tolerance;
    if (impl.device == DeviceType::CUDA && !cuda_available()) {
      report("SKIP", name, impl.name, "(no CUDA: " + cuda_unavailable_reason() + ")");
      ++tally_.skipped;
      return;
    }
    const Device device = impl.device == DeviceType::CUDA ? Device::cuda(0) : Device::cpu();
    TensorMap computed;
    try {
      computed = op.run(layout.inputs, attrs, device, impl.impl, layout.backward);
    } catch (const std::exception& e) {  // cudl::Error, or bad_alloc: fails this case, not the run
      report("FAIL", name, impl.name, std::string("(error: ") + e.what() + ")");
      ++tally_.failed;
      return;
    }

    bool pass = true;
    double worst = 0;
    std::string details, problems;
    std::vector<std::string> verbose_lines;
    std::int64_t input_elements = 0;
    for (const auto& [input, t] : layout.inputs) input_elements += t.numel();
    for (const std::string& result : result_order(layout.expected)) {
      const Tensor& reference = layout.expected.at(result);
      const Comparison c = compare(computed, result, reference, golden, input_elements);
      const bool within_l2 = c.error <= tolerance, within_elements = c.element_ratio <= 1.0;
      const bool ok = c.problem.empty() && within_l2 && within_elements;
      pass = pass && ok;
      if (c.problem.empty()) {
        worst = std::max(worst, c.error);
        details += (details.empty() ? "" : ", ") + result + " " + format_error(c.error);
        if (!within_elements)
          problems += (problems.empty() ? "" : "; ") + result + ": element " + std::to_string(c.worst_element) +
                      " is " + format_error(c.element_ratio) + "x its bound atol + rtol|ref|";
      } else {
        problems += (problems.empty() ? "" : "; ") + result + ": " + c.problem;
      }
      if (options_.verbose)
        verbose_lines.push_back("      " + result + " " + shape_str(reference.shape()) + "  " +
                                (c.problem.empty() ? "err " + format_error(c.error) + ", worst element at " +
                                                         format_error(c.element_ratio) + " of its bound"
                                                   : c.problem) +
                                (ok ? "" : "  <-- over tol"));
    }
    std::string message = problems.empty() ? "max err " + format_error(worst) + " (" + details + ")"
                                            : problems + (details.empty() ? "" : "; " + details);
    if (!pass && worst > tolerance) message += ", tol " + format_error(tolerance);
    report(pass ? "PASS" : "FAIL", name, impl.name, message);
    for (const std::string& line : verbose_lines) std::printf("%s\n", line.c_str());
    if (options_.verbose && !attrs.values().empty()) std::printf("      attrs: %s\n", attrs.str().c_str());
    ++(pass ? tally_.passed : tally_.failed);
  }

  void report(const char* verdict, const std::string& name, const std::string& impl, const std::string& message) {
    std::printf("%s  %-*s  %-10s  %s\n", verdict, static_cast<int>(name_width_), name.c_str(), impl.c_str(),
                message.c_str());
    std::fflush(stdout);
  }

  const Options& options_;
  std::size_t name_width_;
  Tally tally_;
};

void print_usage() {
  std::printf(
      "usage: cudl golden [--impl NAME] [--verbose] PATH...\n\n"
      "Runs golden cases (.safetensors files holding an op's inputs and PyTorch's\n"
      "outputs and gradients; folders are searched recursively) on every\n"
      "implementation of the op this build and machine have, and compares with\n"
      "err = ||computed - reference||_2 / max(||reference||_2, 1e-12) <= tol\n"
      "(1e-4 unless the case's metadata sets `tol`), and every element within\n"
      "atol + rtol |reference|: rtol = min(tol, 64 * 2^-24 * sqrt(K)), K the case's\n"
      "input elements per result element (a reduction's length), atol = rtol times\n"
      "the reference's RMS; metadata `rtol` and `atol` replace them (`tol` alone sets\n"
      "both bounds). One line per case and\n"
      "implementation: PASS, FAIL or SKIP (with the reason). Exit status 1 when any\n"
      "case fails.\n\n"
      "options:\n"
      "  --impl NAME   run only that implementation (cpu_naive, cpu_fast, cuda_naive, ...)\n"
      "  --verbose     also print each result's error and the case's attributes\n");
}

}  // namespace

int cmd_golden(const Args& args) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      print_usage();
      return 0;
    } else if (args[i] == "--verbose" || args[i] == "-v") {
      options.verbose = true;
    } else if (args[i] == "--impl") {
      CUDL_CHECK(i + 1 < args.size(), "--impl needs an implementation name (cpu_naive, cpu_fast, ...)");
      options.impl = args[++i];
    } else if (args[i].rfind("--", 0) == 0) {
      detail::throw_error("unknown option '", args[i], "' (see cudl golden --help)");
    } else {
      options.paths.push_back(args[i]);
    }
  }
  if (options.paths.empty()) {
    print_usage();
    return 2;
  }
  const std::vector<std::string> files = expand(options.paths);
  std::size_t width = 0;
  for (const std::string& f : files) width = std::max(width, fs::path(f).stem().string().size());
  Runner runner(options, width);
  for (const std::string& f : files) runner.run_file(f);
  const Tally& t = runner.tally();
  std::printf("%d passed, %d failed, %d skipped\n", t.passed, t.failed, t.skipped);
  // The variant tables of a CPU-only build have no CUDA rows to report as skipped.
  if (!CUDL_WITH_CUDA) std::printf("this build has no CUDA variants (configure with -DCUDL_CUDA=ON to check them)\n");
  return t.failed > 0 ? 1 : 0;
}

}  // namespace cudl::cli
