// Resolves an (device, Impl) request to the one implementation that runs, so
// each op's dispatcher is a switch over named variants instead of a chain of
// device/impl conditions. Auto is the fast variant of the inputs' device.
#pragma once

#include "core/device.h"
#include "kernels/backend.h"

namespace cudl {

enum class Variant { CpuNaive, CpuFast, CudaNaive, CudaFast, CudaVendor };

// Throws "<op>: no <impl> implementation on <device>" when the build or the op
// has no such variant (`has_vendor`: the op has a cuDNN/cuBLAS implementation).
inline Variant resolve_variant(const char* op, Device device, Impl impl, bool has_vendor = false) {
  const bool fast = impl == Impl::Fast || impl == Impl::Auto;
  if (device.is_cpu()) {
    if (impl == Impl::Naive) return Variant::CpuNaive;
    if (fast) return Variant::CpuFast;
  } else if (CUDL_WITH_CUDA) {
    if (impl == Impl::Naive) return Variant::CudaNaive;
    if (fast) return Variant::CudaFast;
    if (impl == Impl::Vendor && has_vendor) return Variant::CudaVendor;
  }
  throw_no_impl(op, device, impl);
}

}  // namespace cudl
