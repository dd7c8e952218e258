// Shape ops that move data: every cudl tensor is contiguous row-major, so each
// returns a new contiguous tensor (reshape, a view, is Tensor::reshape). Dims may
// be negative, counting from the end, as in torch. float32 tensors.
//
//   permute(x, dims)              out.shape[i] = x.shape[dims[i]]       (torch.permute)
//   transpose(x, d0, d1)          permute swapping two dims             (torch.transpose)
//   concat({x0, x1, ...}, dim)    joined along dim                      (torch.cat)
//   slice(x, dim, start, end)     indices [start, end) of dim           (x.narrow / x[..., start:end])
//   split(x, size, dim), chunk(x, chunks, dim): slices, as torch.split / torch.chunk
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

Tensor permute_forward(const Tensor& x, const std::vector<std::int64_t>& dims, Impl impl = Impl::Auto);
// The inverse permutation of dout.
Tensor permute_backward(const Tensor& dout, const std::vector<std::int64_t>& dims, Impl impl = Impl::Auto);

// Its own backward: transpose_forward(dout, dim0, dim1).
Tensor transpose_forward(const Tensor& x, std::int64_t dim0, std::int64_t dim1, Impl impl = Impl::Auto);

// Same shape but along dim, same device.
Tensor concat_forward(const std::vector<const Tensor*>& xs, std::int64_t dim, Impl impl = Impl::Auto);
// dout cut back into the inputs' extents along dim (`sizes[i]` = xs[i]->size(dim)).
std::vector<Tensor> concat_backward(const Tensor& dout, const std::vector<std::int64_t>& sizes, std::int64_t dim,
                                    Impl impl = Impl::Auto);

// 0 <= start <= end <= x.size(dim) (after negative dims are resolved; start/end are not wrapped).
Tensor slice_forward(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end, Impl impl = Impl::Auto);
// dx of input_shape: zero except dout in [start, start + dout.size(dim)) of dim.
Tensor slice_backward(const Tensor& dout, const Shape& input_shape, std::int64_t dim, std::int64_t start,
                      Impl impl = Impl::Auto);

// Consecutive slices of split_size along dim, the last one shorter if it does not divide.
// Their backward is concat_forward of their gradients.
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim, Impl impl = Impl::Auto);
// torch.chunk: slices of ceil(size / chunks), so there may be fewer than `chunks`.
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim, Impl impl = Impl::Auto);

}  // namespace cudl
