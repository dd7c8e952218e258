// CPU timestep embedding, t [N] -> out [N, dim].
#pragma once

#include "core/tensor.h"

namespace cudl::cpu {

// Every output from its own angle (the reference).
void timestep_embedding_naive(const Tensor& t, Tensor& out);
// The half frequencies once, then one angle per (step, frequency) giving both
// its sine and its cosine, over OpenMP threads.
void timestep_embedding_sincos(const Tensor& t, Tensor& out);

}  // namespace cudl::cpu
