// Which implementation of an op runs.
//
// Every op has a naive and a fast implementation on each device, and some have a
// vendor one (cuBLAS, cuDNN). Ops take an `Impl`; `Auto` means the fastest one
// on the inputs' device. Tests and benchmarks ask for a specific one.
#pragma once

#include <cstdint>
#include <string>

#include "core/device.h"
#include "core/error.h"

namespace cudl {

enum class Impl : std::uint8_t { Auto, Naive, Fast, Vendor };

inline const char* impl_name(Impl impl) {
  switch (impl) {
    case Impl::Auto: return "auto";
    case Impl::Naive: return "naive";
    case Impl::Fast: return "fast";
    case Impl::Vendor: return "vendor";
  }
  return "?";
}

[[noreturn]] inline void throw_no_impl(const char* op, Device device, Impl impl) {
  detail::throw_error(op, ": no ", impl_name(impl), " implementation on ", device.str(),
                      device.is_cuda() && !CUDL_WITH_CUDA ? " (built without CUDA)" : "");
}

}  // namespace cudl
