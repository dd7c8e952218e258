#include <cub/device/device_radix_sort.cuh>

#include <climits>

#include "core/check.h"
#include "core/cuda/context.h"
#include "core/cuda/grid_stride.h"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/embedding.h"

namespace cudl::cuda {

namespace {
__global__ void first_bad_index_kernel(const long long* idx, long long n, long long v, unsigned long long* first) {
  CUDL_GRID_STRIDE_LOOP(p, n)
    if (idx[p] < 0 || idx[p] >= v) atomicMin(first, static_cast<unsigned long long>(p));
}

__global__ void embedding_forward_naive_kernel(const long long* idx, const float* w, float* out, long long n,
                                               long long d) {
  CUDL_GRID_STRIDE_LOOP(i, n * d) {
    const long long p = i / d;
    out[i] = w[idx[p] * d + (i - p * d)];
  }
}

template <bool VEC>
__global__ void embedding_forward_rows_kernel(const long long* __restrict__ idx, const float* __restrict__ w,
                                              float* __restrict__ out, long long n, long long d) {
  for (long long p = blockIdx.x; p < n; p += gridDim.x) {
    const float* src = w + idx[p] * d;
    float* dst = out + p * d;
    if (VEC) {
      for (long long j = threadIdx.x; j < d / 4; j += blockDim.x)
        reinterpret_cast<float4*>(dst)[j] = reinterpret_cast<const float4*>(src)[j];
    } else {
      for (long long j = threadIdx.x; j < d; j += blockDim.x) dst[j] = src[j];
    }
  }
}

__global__ void embedding_backward_atomic_kernel(const float* dout, const long long* idx, float* dw, long long n,
                                                 long long d, long long padding) {
  CUDL_GRID_STRIDE_LOOP(i, n * d) {
    const long long p = i / d, row = idx[p];
    if (row != padding) atomicAdd(dw + row * d + (i - p * d), dout[i]);
  }
}

// First k in [0, n) with keys[k] >= value (n if none).
__device__ long long lower_bound(const long long* keys, long long n, long long value) {
  long long lo = 0, hi = n;
  while (lo < hi) {
    const long long mid = (lo + hi) / 2;
    if (keys[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Block (row r, column chunk): dw[r, j] = sum over the positions of r, in order.
__global__ void embedding_backward_sorted_kernel(const float* __restrict__ dout, const long long* __restrict__ keys,
                                                 const long long* __restrict__ positions, float* __restrict__ dw,
                                                 long long n, long long d, long long padding) {
  __shared__ long long segment[2];
  const long long r = blockIdx.x, j = blockIdx.y * (long long)blockDim.x + threadIdx.x;
  if (threadIdx.x < 2) segment[threadIdx.x] = lower_bound(keys, n, r + threadIdx.x);
  __syncthreads();
  if (j >= d) return;
  float sum = 0.0f;
  if (r != padding)
    for (long long k = segment[0]; k < segment[1]; ++k) sum += dout[positions[k] * d + j];
  dw[r * d + j] = sum;
}

__global__ void iota_kernel(long long* out, long long n) {
  CUDL_GRID_STRIDE_LOOP(i, n) out[i] = i;
}

int bits_for(long long v) {  // radix-sort bits that cover keys in [0, v)
  int bits = 1;
  while (bits < 63 && (1LL << bits) < v) ++bits;
  return bits;
}
}  // namespace

std::int64_t first_bad_index(const Tensor& idx, std::int64_t v) {
  const int device = idx.device().index;
  Tensor first = Tensor::empty({1}, DType::I64, idx.device());
  CUDL_CUDA_CALL(cudaMemsetAsync(first.raw_data(), 0xff, sizeof(long long), stream(device)));  // ULLONG_MAX: none
  launch_grid_stride(first_bad_index_kernel, idx.numel(), stream(device),
                     reinterpret_cast<const long long*>(idx.data<std::int64_t>()), static_cast<long long>(idx.numel()),
                     static_cast<long long>(v), static_cast<unsigned long long*>(first.raw_data()));
  const std::int64_t found = first.to_vector_i64()[0];  // -1 is ULLONG_MAX read as int64
  return found;
}

void embedding_forward_naive(const Tensor& idx, const Tensor& w, Tensor& out) {
  launch_grid_stride(embedding_forward_naive_kernel, out.numel(), stream(w.device().index),
                     reinterpret_cast<const long long*>(idx.data<std::int64_t>()), w.data<float>(), out.data<float>(),
                     static_cast<long long>(idx.numel()), static_cast<long long>(w.size(1)));
}

void embedding_forward_rows(const Tensor& idx, const Tensor& w, Tensor& out) {
  const long long n = idx.numel(), d = w.size(1);
  if (n == 0) return;
  const bool vec = d % 4 == 0 && aligned16(w.data<float>()) && aligned16(out.data<float>());
  const long long per_row = vec ? d / 4 : d;
  const int threads = per_row >= 256 ? 256 : per_row >= 128 ? 128 : per_row >= 64 ? 64 : 32;
  const unsigned blocks = static_cast<unsigned>(n < 65535LL * 8 ? n : 65535LL * 8);
  const auto* pi = reinterpret_cast<const long long*>(idx.data<std::int64_t>());
  cudaStream_t s = stream(w.device().index);
  if (vec)
    embedding_forward_rows_kernel<true><<<blocks, threads, 0, s>>>(pi, w.data<float>(), out.data<float>(), n, d);
  else
    embedding_forward_rows_kernel<false><<<blocks, threads, 0, s>>>(pi, w.data<float>(), out.data<float>(), n, d);
  CUDL_CUDA_CALL(cudaGetLastError());
}

void embedding_backward_atomic(const Tensor& dout, const Tensor& idx, std::int64_t padding, Tensor& dw) {
  dw.zero();
  launch_grid_stride(embedding_backward_atomic_kernel, dout.numel(), stream(dw.device().index), dout.data<float>(),
                     reinterpret_cast<const long long*>(idx.data<std::int64_t>()), dw.data<float>(),
                     static_cast<long long>(idx.numel()), static_cast<long long>(dw.size(1)),
                     static_cast<long long>(padding));
}

void embedding_backward_sorted(const Tensor& dout, const Tensor& idx, std::int64_t padding, Tensor& dw) {
  const long long n = idx.numel(), v = dw.size(0), d = dw.size(1);
  const Device device = dw.device();
  cudaStream_t s = stream(device.index);
  CUDL_CHECK(n <= INT_MAX && v <= INT_MAX, "embedding: the CUDA sort handles at most ", INT_MAX,
             " positions and rows, got ", n, " and ", v);
  Tensor positions = Tensor::empty({n}, DType::I64, device), sorted_keys = Tensor::empty({n}, DType::I64, device),
         sorted_positions = Tensor::empty({n}, DType::I64, device);
  auto* pos = reinterpret_cast<long long*>(positions.data<std::int64_t>());
  auto* keys_out = reinterpret_cast<long long*>(sorted_keys.data<std::int64_t>());
  auto* pos_out = reinterpret_cast<long long*>(sorted_positions.data<std::int64_t>());
  const auto* keys_in = reinterpret_cast<const long long*>(idx.data<std::int64_t>());
  if (n > 0) {
    launch_grid_stride(iota_kernel, n, s, pos, n);
    std::size_t temp_bytes = 0;
    CUDL_CUDA_CALL(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys_out, pos, pos_out,
                                                   static_cast<int>(n), 0, bits_for(v), s));
    // At least one byte: a null temp pointer would make cub report the size again instead of sorting.
    Tensor temp = Tensor::empty({static_cast<std::int64_t>(temp_bytes) + 1}, DType::U8, device);
    CUDL_CUDA_CALL(cub::DeviceRadixSort::SortPairs(temp.raw_data(), temp_bytes, keys_in, keys_out, pos, pos_out,
                                                   static_cast<int>(n), 0, bits_for(v), s));
  }
  if (v == 0 || d == 0) return;
  const int threads = d >= 256 ? 256 : d >= 128 ? 128 : d >= 64 ? 64 : 32;
  const dim3 grid(static_cast<unsigned>(v), static_cast<unsigned>((d + threads - 1) / threads));
  CUDL_CHECK(grid.y <= 65535, "embedding: rows of ", d, " values need more than 65535 column blocks");
  embedding_backward_sorted_kernel<<<grid, threads, 0, s>>>(dout.data<float>(), keys_out, pos_out, dw.data<float>(), n,
                                                            d, static_cast<long long>(padding));
  CUDL_CUDA_CALL(cudaGetLastError());
}

}  // namespace cudl::cuda
