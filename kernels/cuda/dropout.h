// CUDA dropout, with the same mask as the CPU for the same (seed, base_block).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cudl::cuda {

// One thread per element, one Philox evaluation each.
void dropout_forward_naive(const Tensor& x, float p, std::uint64_t seed, std::uint64_t base_block, Tensor& out,
                           Tensor& mask);
// One thread per Philox block: four elements from one evaluation, float4 accesses.
void dropout_forward_philox4(const Tensor& x, float p, std::uint64_t seed, std::uint64_t base_block, Tensor& out,
                             Tensor& mask);
void dropout_backward_naive(const Tensor& dout, const Tensor& mask, Tensor& dx);
void dropout_backward_vec4(const Tensor& dout, const Tensor& mask, Tensor& dx);

}  // namespace cudl::cuda
