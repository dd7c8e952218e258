// CUDA softmax over the last dim; x viewed as [rows, cols].
#pragma once

#include "core/tensor.h"

namespace cudl::cuda {

// One thread per row, three passes (the reference).
void softmax_forward_naive(const Tensor& x, Tensor& out);
void softmax_backward_naive(const Tensor& dout, const Tensor& out, Tensor& dx);
// One warp per row up to 1024 columns, one block per row beyond; a single
// online max/sum pass, then the write pass.
void softmax_forward_warp(const Tensor& x, Tensor& out);
void softmax_backward_warp(const Tensor& dout, const Tensor& out, Tensor& dx);
#if CUDL_WITH_CUDNN
// cudnnSoftmaxForward/Backward, CUDNN_SOFTMAX_ACCURATE, instance mode on [rows, cols, 1, 1].
void softmax_forward_cudnn(const Tensor& x, Tensor& out);
void softmax_backward_cudnn(const Tensor& dout, const Tensor& out, Tensor& dx);
#endif

}  // namespace cudl::cuda
