// CUDA max pooling. Ties go to the first maximum in row-major window order
// (cuDNN's own tie rule applies to the cudnn variant).
#pragma once

#include "core/tensor.h"
#include "kernels/max_pool2d.h"

namespace cudl::cuda {

// One thread per output; backward scatters each dout with atomicAdd.
void max_pool2d_forward_naive(const Tensor& x, const Pool2dParams& p, Tensor& out);
void max_pool2d_backward_naive(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Tensor& dx);
// Forward one thread per output; backward one thread per input element, gathering
// from the outputs whose window covers it and whose maximum it is (no atomics,
// deterministic even when windows overlap).
void max_pool2d_forward_gather(const Tensor& x, const Pool2dParams& p, Tensor& out);
void max_pool2d_backward_gather(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Tensor& dx);
// cuDNN (CUDNN_POOLING_MAX_DETERMINISTIC).
void max_pool2d_forward_cudnn(const Tensor& x, const Pool2dParams& p, Tensor& out);
void max_pool2d_backward_cudnn(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Tensor& dx);

}  // namespace cudl::cuda
