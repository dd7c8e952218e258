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
#if CUDL_WITH_CUDNN
void check_status(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  detail::throw_error("cuDNN call ", call, " failed at ", file, ":", line, ": ", cudnnGetErrorString(status));
}
#endif
void check_status(curandStatus_t status, const char* call, const char* file, int line) {
  if (status == CURAND_STATUS_SUCCESS) return;
  detail::throw_error("cuRAND call ", call, " failed at ", file, ":", line, ": status ", static_cast<int>(status));
}

namespace {
// Makes `device` current for a scope and then the previous device again, so that
// context()'s per-thread record of the current device stays true.
class CurrentDeviceGuard {
 public:
  explicit CurrentDeviceGuard(int device) : device_(device) {
    cudaGetDevice(&previous_);
    if (previous_ != device_) cudaSetDevice(device_);
  }
  ~CurrentDeviceGuard() {
    if (previous_ != device_) cudaSetDevice(previous_);
  }
  CurrentDeviceGuard(const CurrentDeviceGuard&) = delete;
  CurrentDeviceGuard& operator=(const CurrentDeviceGuard&) = delete;

 private:
  int device_, previous_ = 0;
};
}  // namespace

Context::Context(int device) : device_(device) {
  const CurrentDeviceGuard guard(device);
  CUDL_CUDA_CALL(cudaGetDeviceProperties(&properties_, device));
  CUDL_CUDA_CALL(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDL_CUDA_CALL(cudaEventCreateWithFlags(&ordering_event_, cudaEventDisableTiming));
}

Context::~Context() {
  // Destructors must not throw: statuses are ignored at teardown (pending checks are dropped).
  for (auto* list : {&deferred_, &spare_checks_})
    for (DeferredCheck& d : *list) {
      cudaFreeHost(d.host_flag);
      cudaEventDestroy(d.copied);
    }
#if CUDL_WITH_CUDNN
  if (cudnn_) cudnnDestroy(cudnn_);
#endif
  if (cublas_) cublasDestroy(cublas_);
  if (ordering_event_) cudaEventDestroy(ordering_event_);
  if (stream_) cudaStreamDestroy(stream_);
}

cublasHandle_t Context::cublas() {
  if (!cublas_) {
    const CurrentDeviceGuard guard(device_);
    CUDL_CUDA_CALL(cublasCreate(&cublas_));
    CUDL_CUDA_CALL(cublasSetStream(cublas_, stream_));
    // fp32 means fp32: no silent TF32 in GEMMs, so results match the CPU reference.
    CUDL_CUDA_CALL(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  }
  return cublas_;
}

#if CUDL_WITH_CUDNN
cudnnHandle_t Context::cudnn() {
  if (!cudnn_) {
    const CurrentDeviceGuard guard(device_);
    CUDL_CUDA_CALL(cudnnCreate(&cudnn_));
    CUDL_CUDA_CALL(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}
#endif

void Context::order_before(Context& waiting) {
  // An event records the stream's state at the call, so one event serves every call.
  CUDL_CUDA_CALL(cudaEventRecord(ordering_event_, stream_));
  CUDL_CUDA_CALL(cudaStreamWaitEvent(waiting.stream_, ordering_event_, 0));
}

void Context::defer_flag_check(const std::uint64_t* device_flag, std::function<void(std::uint64_t)> check) {
  run_deferred_checks(false);
  std::lock_guard<std::mutex> lock(deferred_mutex_);
  if (spare_checks_.empty()) {
    DeferredCheck made{nullptr, nullptr, {}};
    CUDL_CUDA_CALL(cudaHostAlloc(reinterpret_cast<void**>(&made.host_flag), sizeof(std::uint64_t), cudaHostAllocDefault));
    CUDL_CUDA_CALL(cudaEventCreateWithFlags(&made.copied, cudaEventDisableTiming));
    spare_checks_.push_back(made);
  }
  DeferredCheck d = spare_checks_.front();
  spare_checks_.pop_front();
  d.check = std::move(check);
  CUDL_CUDA_CALL(cudaMemcpyAsync(d.host_flag, device_flag, sizeof(std::uint64_t), cudaMemcpyDeviceToHost, stream_));
  CUDL_CUDA_CALL(cudaEventRecord(d.copied, stream_));
  deferred_.push_back(std::move(d));
}

void Context::run_deferred_checks(bool wait) {
  while (true) {
    DeferredCheck d;
    {
      std::lock_guard<std::mutex> lock(deferred_mutex_);
      if (deferred_.empty()) return;
      DeferredCheck& oldest = deferred_.front();
      if (wait) {
        CUDL_CUDA_CALL(cudaEventSynchronize(oldest.copied));
      } else {
        const cudaError_t state = cudaEventQuery(oldest.copied);
        if (state == cudaErrorNotReady) return;
        CUDL_CUDA_CALL(state);
      }
      d = std::move(oldest);
      deferred_.pop_front();
      spare_checks_.push_back({d.host_flag, d.copied, {}});
    }
    d.check(*d.host_flag);  // outside the lock: it may throw
  }
}

namespace {
// Contexts live until the process ends, so the per-thread caches below may hold plain pointers.
Context& shared_context(int device) {
  static std::mutex mutex;
  static std::vector<std::unique_ptr<Context>> all;
  std::lock_guard<std::mutex> lock(mutex);
  CUDL_CHECK(device >= 0 && device < cuda_device_count(), "cuda: device ", device, " does not exist (",
             cuda_device_count(), " present)");
  if (all.size() <= static_cast<size_t>(device)) all.resize(device + 1);
  if (!all[device]) all[device] = std::make_unique<Context>(device);
  return *all[device];
}

thread_local std::vector<Context*> thread_contexts;
thread_local int thread_current_device = -1;
}  // namespace

Context& context(int device) {
  if (device < 0 || static_cast<size_t>(device) >= thread_contexts.size() || !thread_contexts[device]) {
    Context& made = shared_context(device);  // checks the index
    if (thread_contexts.size() <= static_cast<size_t>(device)) thread_contexts.resize(device + 1, nullptr);
    thread_contexts[device] = &made;
  }
  if (thread_current_device != device) {
    CUDL_CUDA_CALL(cudaSetDevice(device));
    thread_current_device = device;
  }
  return *thread_contexts[device];
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
          const cuda::CurrentDeviceGuard guard(device_index);
          if (cudaMalloc(&ptr, bytes) != cudaSuccess) {
            cudaGetLastError();  // clear the sticky out-of-memory status
            return nullptr;
          }
          return ptr;
        },
        [device_index](void* ptr) {
          const cuda::CurrentDeviceGuard guard(device_index);
          cudaFree(ptr);
        });
  }
  return *slot;
}

}  // namespace cudl
