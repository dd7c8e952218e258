// Reading one golden case file (tests/golden/README.md) for `cudl golden`, and
// for its fuzz harness (tests/fuzz/fuzz_golden_case.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kernels/registry.h"

namespace cudl::cli {

inline constexpr double kDefaultTolerance = 1e-4;

// The element-wise bound |computed - reference| <= atol + rtol |reference| of one
// result. rtol: 64 float32 half-ulps times sqrt(K), K the reduction length,
// estimated as the case's input elements per element of that result (1 for
// elementwise ops; the reduced length for norms, softmax and losses), as float32
// rounding errors of a sum grow as sqrt(K); never looser than the L2 tolerance.
// atol: rtol times the reference's RMS, so elements that cancel to near zero are
// judged on the scale of the whole result. A case's metadata `rtol` and `atol`
// (the latter as a multiple of the RMS) replace them; a case that sets only `tol`
// takes it as its rtol too.
double default_rtol(std::int64_t input_elements, std::int64_t result_elements, double l2_tolerance);

// How a case's tensors divide into inputs and expected results (tests/golden/README.md: "out",
// "out_<state>", and "d<input>" gradients). A "d<X>" is a gradient only when
// the case has a backward pass (a "dout", or the op is a loss) and X is one of
// its tensors; otherwise it is an input, like an optimizer's "dw".
struct CaseLayout {
  TensorMap inputs;
  TensorMap expected;
  bool backward = false;
};

struct GoldenCase {
  std::string op_name;
  const OpDef* op = nullptr;  // nullptr: `op_name` is not in this build's registry (nothing else is read)
  Attrs attrs;                // the metadata but `op` and `tol`
  double tolerance = kDefaultTolerance;  // of the relative L2 error
  std::optional<double> rtol, atol;     // overrides of the defaults above
  CaseLayout layout;
};

// Throws cudl::Error naming `path` for an unreadable file, a missing op, a tol
// that is not a positive finite number, or nothing to compare with.
GoldenCase read_golden_case(const std::string& path);

}  // namespace cudl::cli
