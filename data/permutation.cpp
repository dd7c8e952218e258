#include "data/permutation.h"

#include <numeric>
#include <utility>

#include "core/error.h"
#include "core/rng.h"

namespace cudl {

std::vector<std::int64_t> philox_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t first_block) {
  CUDL_CHECK(n >= 0 && n <= 0xFFFFFFFFLL, "philox_permutation: expected 0 <= n < 2^32, got ", n);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  PhiloxWords words{};
  for (std::int64_t i = n - 1, k = 0; i > 0; --i, ++k) {
    if (k % 4 == 0) words = philox4x32_10(seed, first_block + static_cast<std::uint64_t>(k / 4));
    const std::int64_t j = bounded(words.w[k % 4], static_cast<std::uint32_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

}  // namespace cudl
