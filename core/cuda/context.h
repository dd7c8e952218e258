// The per-device CUDA context: one stream on which all of cudl's work for that
// device is queued, and cuBLAS/cuDNN handles created on first use and bound to
// that stream (cuDNN only when CUDL_WITH_CUDNN).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#if CUDL_WITH_CUDNN
#include <cudnn.h>
#endif

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "core/cuda/check.h"

namespace cudl::cuda {

class Context {
 public:
  explicit Context(int device);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas();
#if CUDL_WITH_CUDNN
  cudnnHandle_t cudnn();
#endif
  const cudaDeviceProp& properties() const { return properties_; }
  // Makes `waiting`'s stream wait for all work queued so far on this context's stream.
  void order_before(Context& waiting);

  // A check of an 8-byte flag that kernels queued so far leave on the device, made later
  // instead of waiting for it now: the flag is copied on the stream into pinned memory, an
  // event follows, and `check(value)` (which throws cudl::Error to report a bad value) runs
  // once the event has completed, at the next defer_flag_check or run_deferred_checks.
  void defer_flag_check(const std::uint64_t* device_flag, std::function<void(std::uint64_t)> check);
  // Runs the deferred checks whose copies have completed; all of them, waiting, when `wait`.
  // synchronize() and copies to the host call it, so a bad flag is raised at the next sync point.
  void run_deferred_checks(bool wait);

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ordering_event_ = nullptr;
  struct DeferredCheck {
    std::uint64_t* host_flag = nullptr;  // pinned
    cudaEvent_t copied = nullptr;
    std::function<void(std::uint64_t)> check;
  };
  std::mutex deferred_mutex_;
  std::deque<DeferredCheck> deferred_;      // in stream order
  std::deque<DeferredCheck> spare_checks_;  // pinned words and events to reuse
  cublasHandle_t cublas_ = nullptr;
#if CUDL_WITH_CUDNN
  cudnnHandle_t cudnn_ = nullptr;
#endif
  cudaDeviceProp properties_{};
};

// The context of a device, created on first use, with that device made current for
// the calling thread. Each thread caches the contexts it has seen and the device it
// last made current, so a launch costs neither the global lock nor a cudaSetDevice;
// code that switches devices behind cudl's back must restore them (the allocator does).
Context& context(int device = 0);
inline cudaStream_t stream(int device = 0) { return context(device).stream(); }

// Grid size for a grid-stride loop over n elements.
inline unsigned grid_for(long long n, int block = 256) {
  long long blocks = (n + block - 1) / block;
  const long long cap = 65535LL * 8;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

}  // namespace cudl::cuda
