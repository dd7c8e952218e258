// Sums and means over dims (torch.sum / torch.mean semantics), and sum_to_shape,
// the reduction that undoes a broadcast. Every implementation adds in a fixed
// order, in double: the same inputs give the same bits run after run.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

// Over `dims` (negative counts from the end; empty: every dim, giving shape []
// or, with keepdim, all ones). keepdim keeps the reduced dims as size 1.
// Throws on a dim out of range or repeated.
Tensor sum_forward(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
                   Impl impl = Impl::Auto);
Tensor mean_forward(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
                    Impl impl = Impl::Auto);
// dx (shaped x_shape): dout broadcast back over the reduced dims (divided by
// their element count for mean). dout is shaped as the forward's output.
Tensor sum_backward(const Tensor& dout, const Shape& x_shape, const std::vector<std::int64_t>& dims = {},
                    bool keepdim = false, Impl impl = Impl::Auto);
Tensor mean_backward(const Tensor& dout, const Shape& x_shape, const std::vector<std::int64_t>& dims = {},
                     bool keepdim = false, Impl impl = Impl::Auto);

// x summed down to `shape`, which must broadcast to x's shape: the gradient of
// any broadcast (its leading dims and its size-1 dims summed). A copy of x when
// the shapes are equal. Its backward is broadcast_to (kernels/elementwise.h).
Tensor sum_to_shape(const Tensor& x, const Shape& shape, Impl impl = Impl::Auto);

}  // namespace cudl
