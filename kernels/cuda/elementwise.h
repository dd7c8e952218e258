// CUDA elementwise maps with broadcasting, queued on the device's stream. `out`
// is allocated by the caller with the inputs' broadcast shape; inputs.size() is
// map_arity(spec.map), all float32 except a cond map's condition (float32 or uint8).
#pragma once

#include <vector>

#include "core/tensor.h"
#include "kernels/elementwise_math.h"

namespace cudl::cuda {

// One thread per output element, 64-bit indices over the full-rank broadcast index.
void element_map_naive(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out);
// Collapsed dims; same-shape float inputs as float4 maps (elementwise.cuh), any
// broadcast through one strided kernel, with 32-bit indices when the output fits.
void element_map_fast(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out);

}  // namespace cudl::cuda
