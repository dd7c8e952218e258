// CUDA timestep embedding, t [N] -> out [N, dim].
#pragma once

#include "core/tensor.h"

namespace cudl::cuda {

// One thread per output, its angle computed in place (the reference).
void timestep_embedding_naive(const Tensor& t, Tensor& out);
// One thread per (step, frequency): one angle, its sine and cosine from sincos.
void timestep_embedding_sincos(const Tensor& t, Tensor& out);

}  // namespace cudl::cuda
