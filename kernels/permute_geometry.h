// Index math of permute, shared by the CPU and CUDA kernels: output element o
// (row-major over the output shape) reads input element permute_source(g, o).
//
// permute_geometry simplifies the problem first: size-1 dims go, and output dims
// that are also adjacent, in order, in the input merge into one. transpose(1, 2)
// of [N, T, H, D] becomes a [N, H, T, D'] copy of runs of D; [B, M, N] -> [B, N, M]
// stays a batch of 2-D transposes. `naive` keeps the dims as given (the reference).
#pragma once

#include <cstdint>
#include <vector>

#include "core/host_device.h"
#include "core/tensor.h"

namespace cudl {

inline constexpr int kMaxPermuteDims = 8;

struct PermuteGeometry {
  int ndim = 0;
  std::int64_t numel = 1;
  std::int64_t shape[kMaxPermuteDims] = {};      // output shape
  std::int64_t in_stride[kMaxPermuteDims] = {};  // input stride of each output dim
};

// `dims` must be a permutation of [0, in_shape.size()) (permute checks it).
inline PermuteGeometry permute_geometry(const Shape& in_shape, const std::vector<std::int64_t>& dims, bool naive) {
  const int nd = static_cast<int>(in_shape.size());
  std::vector<std::int64_t> stride(in_shape.size(), 1);
  for (int d = nd - 2; d >= 0; --d) stride[d] = stride[d + 1] * in_shape[d + 1];
  PermuteGeometry g;
  g.numel = shape_numel(in_shape);
  for (std::int64_t d : dims) {
    const std::int64_t size = in_shape[d], s = stride[d];
    if (!naive && size == 1) continue;
    if (!naive && g.ndim > 0 && g.in_stride[g.ndim - 1] == s * size) {  // continues the previous dim's run
      g.shape[g.ndim - 1] *= size;
      g.in_stride[g.ndim - 1] = s;
      continue;
    }
    g.shape[g.ndim] = size;
    g.in_stride[g.ndim] = s;
    ++g.ndim;
  }
  if (g.ndim == 0) {  // every dim had size 1
    g.shape[0] = 1;
    g.in_stride[0] = 1;
    g.ndim = 1;
  }
  return g;
}

CUDL_HOST_DEVICE std::int64_t permute_source(const PermuteGeometry& g, std::int64_t o) {
  std::int64_t src = 0;
  for (int j = g.ndim - 1; j >= 0; --j) {
    const std::int64_t q = o / g.shape[j];
    src += (o - q * g.shape[j]) * g.in_stride[j];
    o = q;
  }
  return src;
}

// A simplified permute whose last output dim is not the input's contiguous one
// is a batch of 2-D transposes: `cols` input-contiguous values (output stride
// `out_col_stride`) by `rows` output-contiguous ones (input stride
// `in_row_stride`), for each of `outer.numel` combinations of the other dims.
// outer.shape/in_stride describe those dims; out_stride their output strides.
struct TransposeGeometry {
  PermuteGeometry outer;
  std::int64_t out_stride[kMaxPermuteDims] = {};
  std::int64_t rows = 1, cols = 1, in_row_stride = 1, out_col_stride = 1;
};

// Whether `g` (simplified) is such a batch of transposes; fills `t` when it is.
inline bool as_transposes(const PermuteGeometry& g, TransposeGeometry& t) {
  const int last = g.ndim - 1;
  if (g.in_stride[last] == 1) return false;
  std::int64_t out_stride[kMaxPermuteDims];
  out_stride[last] = 1;
  for (int j = last - 1; j >= 0; --j) out_stride[j] = out_stride[j + 1] * g.shape[j + 1];
  t = TransposeGeometry{};
  t.rows = g.shape[last];
  t.in_row_stride = g.in_stride[last];
  t.outer.numel = 1;
  for (int j = 0; j < last; ++j) {
    if (g.in_stride[j] == 1) {
      t.cols = g.shape[j];
      t.out_col_stride = out_stride[j];
      continue;
    }
    t.outer.shape[t.outer.ndim] = g.shape[j];
    t.outer.in_stride[t.outer.ndim] = g.in_stride[j];
    t.out_stride[t.outer.ndim] = out_stride[j];
    t.outer.numel *= g.shape[j];
    ++t.outer.ndim;
  }
  return true;
}

// Input and output offsets of outer combination `o` of a TransposeGeometry.
CUDL_HOST_DEVICE void transpose_bases(const TransposeGeometry& t, std::int64_t o, std::int64_t& in_base,
                                      std::int64_t& out_base) {
  in_base = 0;
  out_base = 0;
  for (int j = t.outer.ndim - 1; j >= 0; --j) {
    const std::int64_t q = o / t.outer.shape[j], i = o - q * t.outer.shape[j];
    in_base += i * t.outer.in_stride[j];
    out_base += i * t.out_stride[j];
    o = q;
  }
}

}  // namespace cudl
