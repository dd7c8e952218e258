#pragma once

#include <cstdint>

namespace cudl::cpu {

// Below about this many elements of work, starting OpenMP threads costs more than
// the loop itself; parallel regions over smaller work take an `if` on it.
inline constexpr std::int64_t kParallelMin = 1 << 15;

// The same for a BLAS matrix product, counted in multiply-adds (m n k).
inline constexpr std::int64_t kBlasParallelMin = 1 << 21;

}  // namespace cudl::cpu
