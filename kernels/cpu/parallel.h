#pragma once

#include <cstdint>

namespace cudl::cpu {

// Below about this many elements of work, starting OpenMP threads costs more than
// the loop itself; parallel regions over smaller work take an `if` on it.
inline constexpr std::int64_t kParallelMin = 1 << 15;

}  // namespace cudl::cpu
