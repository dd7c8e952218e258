// Seeded permutations from Philox, shared by the validation split and the
// loader's per-epoch shuffle.
#pragma once

#include <cstdint>
#include <vector>

namespace cudl {

// A Fisher-Yates shuffle of [0, n) whose k-th draw is word k of the Philox
// stream (seed, blocks from first_block on): the same (seed, first_block) gives
// the same permutation on every machine.
std::vector<std::int64_t> philox_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t first_block);

// A uniform integer in [0, bound) from a 32-bit random word (multiply-shift; the
// bias, bound / 2^32, is far below anything a shuffle of a dataset could show).
inline std::uint32_t bounded(std::uint32_t word, std::uint32_t bound) {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(word) * bound) >> 32);
}

}  // namespace cudl
