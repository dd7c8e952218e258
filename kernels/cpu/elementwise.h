// CPU elementwise maps with broadcasting. `out` is allocated by the caller with
// the inputs' broadcast shape; inputs.size() is map_arity(spec.map), all float32
// except a cond map's condition, which may be uint8.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "kernels/elementwise_math.h"

namespace cudl::cpu {

// One element at a time over the full-rank broadcast index, in double (the reference).
void element_map_naive(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out);
// Collapsed dims; OpenMP threads over chunks of the innermost dim, whose loop is
// compiled per input as contiguous or broadcast (stride 1 or 0), so that the
// same-shape, bias-over-last-dim and per-channel cases are all plain SIMD loops.
void element_map_strided(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out);

}  // namespace cudl::cpu
