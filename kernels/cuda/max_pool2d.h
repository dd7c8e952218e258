// CUDA max pooling. Ties go to the first maximum in row-major window order, NaNs
// propagate (window_argmax, kernels/pool2d_geometry.h; cuDNN's own tie rule applies to
// the cudnn forward's values, which ties do not change).
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
#if CUDL_WITH_CUDNN
// cuDNN forward (CUDNN_POOLING_MAX_DETERMINISTIC, NaNs propagated). There is no cuDNN
// backward: cudnnPoolingBackward needs the forward's output, which backward(dout, x)
// does not have (it would recompute the forward into a temporary), and it does not say
// which element of a window holding NaNs gets the gradient. The vendor variant's
// backward is max_pool2d_backward_gather, which routes by window_argmax like the rest.
void max_pool2d_forward_cudnn(const Tensor& x, const Pool2dParams& p, Tensor& out);
#endif

}  // namespace cudl::cuda
