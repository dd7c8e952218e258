// Max pooling over NCHW, no padding; windows that do not fit are dropped:
// H' = 1 + (H - kernel_h) / stride.
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

struct Pool2dParams {
  std::int64_t kernel_h = 2;
  std::int64_t kernel_w = 2;
  std::int64_t stride = 2;
};

Tensor max_pool2d_forward(const Tensor& x, const Pool2dParams& p, Impl impl = Impl::Auto);
// Routes each dout element to the first maximum of its window in x (row-major
// order), as PyTorch does; overlapping windows accumulate.
Tensor max_pool2d_backward(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Impl impl = Impl::Auto);

}  // namespace cudl
