#include "core/cuda/context.h"
#include "autograd/cuda/add_inplace.h"

namespace cudl::cuda {

namespace {
__global__ void add_inplace_kernel(float* dst, const float* src, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    dst[i] += src[i];
}
}  // namespace

void add_inplace(int device, float* dst, const float* src, std::int64_t n) {
  if (n == 0) return;
  add_inplace_kernel<<<grid_for(n), 256, 0, stream(device)>>>(dst, src, n);
  CUDL_CUDA_CALL(cudaGetLastError());
}

}  // namespace cudl::cuda
