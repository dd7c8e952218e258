// One macro checks every CUDA, cuBLAS, cuDNN (when built with it) and cuRAND call:
//   CUDL_CUDA_CALL(cudaMemcpyAsync(...));
//   CUDL_CUDA_CALL(cublasSgemm(...));
//   my_kernel<<<grid, block, 0, stream>>>(...); CUDL_CUDA_CALL(cudaGetLastError());
// A failure throws cudl::Error naming the call, the file and line, and the library's
// own description of the status.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>
#if CUDL_WITH_CUDNN
#include <cudnn.h>
#endif

namespace cudl::cuda {

void check_status(cudaError_t status, const char* call, const char* file, int line);
void check_status(cublasStatus_t status, const char* call, const char* file, int line);
#if CUDL_WITH_CUDNN
void check_status(cudnnStatus_t status, const char* call, const char* file, int line);
#endif
void check_status(curandStatus_t status, const char* call, const char* file, int line);

}  // namespace cudl::cuda

#define CUDL_CUDA_CALL(expr) ::cudl::cuda::check_status((expr), #expr, __FILE__, __LINE__)
