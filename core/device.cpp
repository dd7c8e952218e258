#include <omp.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "core/device.h"
#include "core/error.h"
#include "core/memory.h"

#if CUDL_WITH_CUDA
#include <cuda_runtime.h>

#include "core/cuda/context.h"
#include "core/cuda/fill.h"
#endif

namespace cudl {

Device parse_device(const std::string& name) {
  if (name == "auto") return default_device();
  if (name == "cpu") return Device::cpu();
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (name.size() > 5) {
      try {
        index = std::stoi(name.substr(5));
      } catch (const std::exception&) {
        detail::throw_error("device: expected cpu, cuda, cuda:N or auto, got '", name, "'");
      }
    }
    CUDL_CHECK(cuda_available(), "device: '", name, "' requested but CUDA is unavailable (", cuda_unavailable_reason(),
               ")");
    CUDL_CHECK(index >= 0 && index < cuda_device_count(), "device: '", name, "' requested but only ",
               cuda_device_count(), " CUDA device(s) present");
    return Device::cuda(index);
  }
  detail::throw_error("device: expected cpu, cuda, cuda:N or auto, got '", name, "'");
}

namespace {
struct CudaProbe {
  int count = 0;
  std::string reason;
};

const CudaProbe& cuda_probe() {
  static const CudaProbe probe = [] {
    CudaProbe p;
#if CUDL_WITH_CUDA
    const cudaError_t status = cudaGetDeviceCount(&p.count);
    if (status != cudaSuccess) {
      p.count = 0;
      p.reason = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
      cudaGetLastError();
    } else if (p.count == 0) {
      p.reason = "no CUDA device";
    }
#else
    p.reason = "cudl was built without CUDA";
#endif
    return p;
  }();
  return probe;
}
}  // namespace

bool cuda_available() { return cuda_probe().count > 0; }
std::string cuda_unavailable_reason() { return cuda_probe().reason; }
int cuda_device_count() { return cuda_probe().count; }

Device default_device() { return cuda_available() ? Device::cuda(0) : Device::cpu(); }

std::string describe(Device device) {
  if (device.is_cpu()) return "cpu (" + std::to_string(omp_get_max_threads()) + " threads)";
#if CUDL_WITH_CUDA
  const cudaDeviceProp& p = cuda::context(device.index).properties();
  char memory[32];
  std::snprintf(memory, sizeof memory, "%.1f GiB", p.totalGlobalMem / 1073741824.0);
  return device.str() + " (" + p.name + ", sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " + memory +
         ")";
#else
  return device.str() + " (unavailable)";
#endif
}

void synchronize(Device device) {
#if CUDL_WITH_CUDA
  if (device.is_cuda()) {
    CUDL_CUDA_CALL(cudaStreamSynchronize(cuda::stream(device.index)));
    cuda::context(device.index).run_deferred_checks(false);  // all complete now
  }
#endif
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if CUDL_WITH_CUDA
  const Device on = dst_device.is_cuda() ? dst_device : src_device;
  cudaStream_t stream = cuda::stream(on.index);
  const bool across_gpus = dst_device.is_cuda() && src_device.is_cuda() && dst_device.index != src_device.index;
  // Between two GPUs the copy runs on the destination's stream: it must first wait for
  // the work that writes the source, and the source's later work (which may reuse the
  // source's memory) must wait for the copy.
  if (across_gpus) cuda::context(src_device.index).order_before(cuda::context(dst_device.index));
  CUDL_CUDA_CALL(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
  if (across_gpus) cuda::context(dst_device.index).order_before(cuda::context(src_device.index));
  // The host may read or free its side as soon as we return.
  if (dst_device.is_cpu() || src_device.is_cpu()) {
    CUDL_CUDA_CALL(cudaStreamSynchronize(stream));
    cuda::context(on.index).run_deferred_checks(false);  // a sync point: raise what the device flagged
  }
#else
  detail::throw_error("copy: cudl was built without CUDA");
#endif
}

void fill_f32(float* dst, Device device, std::size_t count, float value) {
  if (device.is_cpu()) {
    for (std::size_t i = 0; i < count; ++i) dst[i] = value;
    return;
  }
#if CUDL_WITH_CUDA
  cuda::fill_f32(dst, count, value, cuda::stream(device.index));
#endif
}

void zero_bytes(void* dst, Device device, std::size_t bytes) {
  if (device.is_cpu()) {
    std::memset(dst, 0, bytes);
    return;
  }
#if CUDL_WITH_CUDA
  CUDL_CUDA_CALL(cudaMemsetAsync(dst, 0, bytes, cuda::stream(device.index)));
#endif
}

}  // namespace cudl
