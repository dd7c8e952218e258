// CUDA positional encoding, x [N, S, E].
#pragma once

#include "core/tensor.h"

namespace cudl::cuda {

// One thread per element, its table value computed in place (the reference).
void positional_encoding_forward_naive(const Tensor& x, Tensor& out);
// The [S, E] table once (S*E sines instead of N*S*E), then a broadcast add over N.
void positional_encoding_forward_table(const Tensor& x, Tensor& out);

}  // namespace cudl::cuda
