#include "core/cuda/context.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/error.h"

namespace cudl::cuda {

void check_status(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  detail::throw_error("CUDA call ", call, " failed at ", file, ":", line, ": ", cudaGetErrorName(status), " (",
                      cudaGetErrorString(status), ")");
}
void check_status(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  detail::throw_error("cuBLAS call ", call, " failed at ", file, ":", line, ": ", cublasGetStatusName(status), " (",
                      cublasGetStatusString(status), ")");
}
void check_status(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  detail::throw_error("cuDNN call ", call, " failed at ", file, ":", line, ": ", cudnnGetErrorString(status));
}
void check_status(curandStatus_t status, const char* call, const char* file, int line) {
  if (status == CURAND_STATUS_SUCCESS) return;
  detail::throw_error("cuRAND call ", call, " failed at ", file, ":", line, ": status ", static_cast<int>(status));
}

Context::Context(int device) : device_(device) {
  CUDL_CUDA_CALL(cudaSetDevice(device));
  CUDL_CUDA_CALL(cudaGetDeviceProperties(&properties_, device));
  CUDL_CUDA_CALL(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

Context::~Context() {
  // Destructors must not throw: statuses are ignored at teardown.
  if (cudnn_) cudnnDestroy(cudnn_);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
}

cublasHandle_t Context::cublas() {
  if (!cublas_) {
    CUDL_CUDA_CALL(cudaSetDevice(device_));
    CUDL_CUDA_CALL(cublasCreate(&cublas_));
    CUDL_CUDA_CALL(cublasSetStream(cublas_, stream_));
    // fp32 means fp32: no silent TF32 in GEMMs, so results match the CPU reference.
    CUDL_CUDA_CALL(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  }
  return cublas_;
}

cudnnHandle_t Context::cudnn() {
  if (!cudnn_) {
    CUDL_CUDA_CALL(cudaSetDevice(device_));
    CUDL_CUDA_CALL(cudnnCreate(&cudnn_));
    CUDL_CUDA_CALL(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}

namespace {
std::mutex contexts_mutex;
std::vector<std::unique_ptr<Context>>& contexts() {
  static std::vector<std::unique_ptr<Context>> all;
  return all;
}
}  // namespace

Context& context(int device) {
  std::lock_guard<std::mutex> lock(contexts_mutex);
  auto& all = contexts();
  CUDL_CHECK(device >= 0 && device < cuda_device_count(), "cuda: device ", device, " does not exist (",
             cuda_device_count(), " present)");
  if (all.size() <= static_cast<size_t>(device)) all.resize(device + 1);
  if (!all[device]) all[device] = std::make_unique<Context>(device);
  CUDL_CUDA_CALL(cudaSetDevice(device));
  return *all[device];
}

}  // namespace cudl::cuda

namespace cudl {

CachingAllocator& cuda_allocator(int device_index) {
  CUDL_CHECK(cuda_available(), "cuda: no usable CUDA device (", cuda_unavailable_reason(), ")");
  static std::mutex mutex;
  static std::vector<std::unique_ptr<CachingAllocator>> allocators;
  std::lock_guard<std::mutex> lock(mutex);
  if (allocators.size() <= static_cast<size_t>(device_index)) allocators.resize(device_index + 1);
  auto& slot = allocators[device_index];
  if (!slot) {
    slot = std::make_unique<CachingAllocator>(
        [device_index](std::size_t bytes) -> void* {
          void* ptr = nullptr;
          cudaSetDevice(device_index);
          if (cudaMalloc(&ptr, bytes) != cudaSuccess) {
            cudaGetLastError();  // clear the sticky out-of-memory status
            return nullptr;
          }
          return ptr;
        },
        [device_index](void* ptr) {
          cudaSetDevice(device_index);
          cudaFree(ptr);
        });
  }
  return *slot;
}

}  // namespace cudl
