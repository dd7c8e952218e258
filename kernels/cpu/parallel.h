#pragma once

#include <cstdint>

namespace cudl::cpu {

// Below about this many elements of work, starting OpenMP threads costs more than
// the loop itself; parallel regions over smaller work take an `if` on it.
inline constexpr std::int64_t kParallelMin = 1 << 15;

// The same cutoff for a BLAS matrix product, counted in multiply-adds (m n k): a
// multiply-add costs a fraction of an element pass, and BLIS's threads meet at a
// barrier per packed panel, so a product needs 64 times the work to pay for them.
inline constexpr std::int64_t kBlasParallelMin = 64 * kParallelMin;

}  // namespace cudl::cpu
