// CPU conv2d, split into the four pieces that conv2d and conv_transpose2d share:
// forward, backward-data (dx from dout), backward-weight (dw) and the bias terms.
// Geometry comes from x's (or dx's) and w's shapes; `b` may be null (no bias).
#pragma once

#include "core/tensor.h"
#include "kernels/conv2d.h"

namespace cudl::cpu {

// Direct loops over the receptive field (CS231n's conv_forward_naive), double sums.
void conv2d_forward_naive(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out);
// Each dx element gathers the outputs its pixel fed.
void conv2d_backward_data_naive(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx);
void conv2d_backward_weight_naive(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw);

// im2col + BLAS GEMM per image, images spread over OpenMP threads:
// out = W cols; dx = col2im(W^T dout); dw = sum over images of dout cols^T.
void conv2d_forward_im2col(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out);
void conv2d_backward_data_im2col(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx);
void conv2d_backward_weight_im2col(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw);

// db[f] = sum of dout[:, f]; out[:, f] += b[f].
void conv2d_backward_bias(const Tensor& dout, Tensor& db);
void add_channel_bias(Tensor& out, const Tensor& b);

}  // namespace cudl::cpu
