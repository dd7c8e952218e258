// CUDA conv2d in the same four pieces as the CPU one (kernels/cpu/conv2d.h),
// queued on the device's stream. `b` may be null (no bias).
#pragma once

#include "core/tensor.h"
#include "kernels/conv2d.h"

namespace cudl::cuda {

// Direct: one thread per output element; backward one thread per dx element
// (gathering) and one per dw element.
void conv2d_forward_naive(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out);
void conv2d_backward_data_naive(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx);
void conv2d_backward_weight_naive(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw);

// im2col over chunks of images (column buffer <= 256 MB) + batched gemm_tiled;
// col2im gathers (one thread per dx element, no atomics).
void conv2d_forward_im2col(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out);
void conv2d_backward_data_im2col(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx);
void conv2d_backward_weight_im2col(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw);

#if CUDL_WITH_CUDNN
// cuDNN, fp32 FMA math (no TF32), algorithms from the _v7 heuristics cached per shape:
// the best deterministic one within a 256 MiB workspace, else the best within it.
void conv2d_forward_cudnn(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out);
void conv2d_backward_data_cudnn(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx);
void conv2d_backward_weight_cudnn(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw);
void conv2d_backward_bias_cudnn(const Tensor& dout, Tensor& db);
void add_channel_bias_cudnn(Tensor& out, const Tensor& b);
#endif

// db[f] = sum of dout[:, f] (per-block partial sums over a 2-D grid, then a fixed-order
// sum per channel); out[:, f] += b[f].
void conv2d_backward_bias(const Tensor& dout, Tensor& db);
void add_channel_bias(Tensor& out, const Tensor& b);

}  // namespace cudl::cuda
