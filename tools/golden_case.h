// Reading one golden case file (tests/golden/README.md) for `cudl golden`, and
// for its fuzz harness (tests/fuzz/fuzz_golden_case.cpp).
#pragma once

#include <string>

#include "kernels/registry.h"

namespace cudl::cli {

inline constexpr double kDefaultTolerance = 1e-4;

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
  double tolerance = kDefaultTolerance;
  CaseLayout layout;
};

// Throws cudl::Error naming `path` for an unreadable file, a missing op, a tol
// that is not a positive finite number, or nothing to compare with.
GoldenCase read_golden_case(const std::string& path);

}  // namespace cudl::cli
