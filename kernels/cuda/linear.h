// CUDA linear. x is viewed as [N, D]. All work is queued on the device's stream.
#pragma once

#include "core/tensor.h"

namespace cudl::cuda {

// One thread per output element (the reference).
void linear_forward_naive(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out);
void linear_backward_naive(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db);
// cuBLAS SGEMM (fp32, no TF32).
void linear_forward_cublas(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out);
void linear_backward_cublas(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db);
// Our own SGEMM (kernels/cuda/gemm.h, gemm_tiled).
void linear_forward_tiled(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out);
void linear_backward_tiled(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db);

}  // namespace cudl::cuda
