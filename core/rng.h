// One counter-based random stream for CPU and CUDA: Philox4x32-10 (Salmon et al.,
// "Parallel random numbers: as easy as 1, 2, 3", SC'11).
//
// A draw is a pure function of (seed, block): block b yields four 32-bit words, so
// value i of a fill that starts at block `base` is word i%4 of block base + i/4.
// Any thread on any device computes the same value for the same i, which is why
// dropout masks and diffusion noise agree between the CPU and the GPU.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/host_device.h"

namespace cudl {

struct PhiloxWords {
  std::uint32_t w[4];
};

CUDL_HOST_DEVICE std::uint32_t mulhilo32(std::uint32_t a, std::uint32_t b, std::uint32_t* hi) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(product >> 32);
  return static_cast<std::uint32_t>(product);
}

// Philox4x32 with 10 rounds; counter = (block, 0), key = seed.
CUDL_HOST_DEVICE PhiloxWords philox4x32_10(std::uint64_t seed, std::uint64_t block) {
  std::uint32_t c0 = static_cast<std::uint32_t>(block), c1 = static_cast<std::uint32_t>(block >> 32), c2 = 0, c3 = 0;
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, hi1;
    const std::uint32_t lo0 = mulhilo32(0xD2511F53u, c0, &hi0);
    const std::uint32_t lo1 = mulhilo32(0xCD9E8D57u, c2, &hi1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 24 random bits: exact in float32 on every device.
CUDL_HOST_DEVICE float uniform_from_bits(std::uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

CUDL_HOST_DEVICE float philox_uniform(std::uint64_t seed, std::uint64_t base_block, std::uint64_t i) {
  return uniform_from_bits(philox4x32_10(seed, base_block + i / 4).w[i % 4]);
}

// Standard normal by Box-Muller on word pairs (0,1) and (2,3) of a block. The
// transcendental math is done in double so that CPU and GPU round to the same
// float except in rare ties (CUDA's double log/sin/cos are within 2 ulp of glibc's,
// not bit-identical): compare normals across devices with a tolerance.
CUDL_HOST_DEVICE float philox_normal(std::uint64_t seed, std::uint64_t base_block, std::uint64_t i) {
  const PhiloxWords x = philox4x32_10(seed, base_block + i / 4);
  const unsigned lane = static_cast<unsigned>(i % 4), pair = lane & ~1u;
  const double u1 = (static_cast<double>(x.w[pair] >> 8) + 1.0) * (1.0 / 16777216.0);  // (0, 1]
  const double u2 = static_cast<double>(x.w[pair + 1] >> 8) * (1.0 / 16777216.0);
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586 * u2;
  return static_cast<float>((lane & 1u) ? radius * sin(angle) : radius * cos(angle));
}

// The state of a stream: the seed and the next unused block. A fill of n values
// takes ceil(n/4) blocks, so consecutive fills never overlap and a saved
// (seed, offset) resumes the stream exactly.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0, std::uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const { return offset_; }
  // Reserves blocks for n values and returns the first block.
  std::uint64_t reserve(std::uint64_t n) {
    const std::uint64_t base = offset_;
    offset_ += (n + 3) / 4;
    return base;
  }

 private:
  std::uint64_t seed_;
  std::uint64_t offset_;
};

}  // namespace cudl
