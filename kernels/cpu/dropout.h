// CPU dropout. Element i is dropped iff philox_uniform(seed, base_block, i) < p;
// kept elements are scaled by 1/(1-p), which `mask` holds (0 where dropped).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace cudl::cpu {

// One Philox evaluation per element, plain loop.
void dropout_forward_naive(const Tensor& x, float p, std::uint64_t seed, std::uint64_t base_block, Tensor& out,
                           Tensor& mask);
// One Philox evaluation per four elements (all four words of a block), OpenMP.
void dropout_forward_omp(const Tensor& x, float p, std::uint64_t seed, std::uint64_t base_block, Tensor& out,
                         Tensor& mask);
// dx = dout * mask; `parallel` spreads the loop over OpenMP threads.
void dropout_backward(const Tensor& dout, const Tensor& mask, Tensor& dx, bool parallel);

}  // namespace cudl::cpu
