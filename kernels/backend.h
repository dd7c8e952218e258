// Which implementation of an op runs: an `Impl` is a request, resolved by the
// op's variant table (kernels/variants.h).
//
// A request is one of
//   Impl::Auto    the fastest verified variant on the inputs' device (the first
//                 entry for that device in the op's table);
//   Impl::Naive   the device's reference variant (plain loops, one thread per output);
//   Impl::Fast    the device's first own optimised variant (tiled, vectorised, flash);
//   Impl::Vendor  the device's first vendor-library variant (cuDNN, cuBLAS);
//   Impl("name")  exactly the variant of that name ("cuda_fast", "cudnn", ...).
// Tests and benchmarks ask for specific variants; models and `cudl train
// --impl` ask for Auto, Naive or Fast, which every op has on every device.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/device.h"
#include "core/error.h"

namespace cudl {

class Impl {
 public:
  static constexpr std::size_t kMaxName = 23;
  static const Impl Auto, Naive, Fast, Vendor;

  // Throws when the name is empty or longer than kMaxName.
  constexpr explicit Impl(std::string_view name) {
    if (name.empty() || name.size() > kMaxName)
      detail::throw_error("implementation name '", name, "' must have 1 to ", kMaxName, " characters");
    for (std::size_t i = 0; i < name.size(); ++i) name_[i] = name[i];
    size_ = static_cast<unsigned char>(name.size());
  }
  constexpr std::string_view name() const { return {name_, size_}; }
  constexpr bool operator==(const Impl& other) const { return name() == other.name(); }

 private:
  // Held by value (no lifetime to manage), so a request can be copied into
  // closures and thread-locals freely.
  char name_[kMaxName + 1]{};
  unsigned char size_ = 0;
};

inline constexpr Impl Impl::Auto{"auto"};
inline constexpr Impl Impl::Naive{"naive"};
inline constexpr Impl Impl::Fast{"fast"};
inline constexpr Impl Impl::Vendor{"vendor"};

inline std::string impl_name(const Impl& impl) { return std::string(impl.name()); }

[[noreturn]] inline void throw_no_impl(const char* op, Device device, const Impl& impl) {
  detail::throw_error(op, ": no ", impl.name(), " implementation on ", device.str(),
                      device.is_cuda() && !CUDL_WITH_CUDA ? " (built without CUDA)" : "");
}

}  // namespace cudl
