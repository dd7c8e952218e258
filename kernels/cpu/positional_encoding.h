// CPU positional encoding, x [N, S, E].
#pragma once

#include "core/tensor.h"

namespace cudl::cpu {

// The table value of every element computed where it is used (the reference).
void positional_encoding_forward_naive(const Tensor& x, Tensor& out);
// The [S, E] table once, then a broadcast add over N, both over OpenMP threads.
void positional_encoding_forward_table(const Tensor& x, Tensor& out);

}  // namespace cudl::cpu
