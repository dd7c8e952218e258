// Random fills of float32 tensors from a Generator, identical on CPU and CUDA.
#pragma once

#include "core/rng.h"
#include "core/tensor.h"

namespace cudl {

void fill_uniform(Tensor& t, Generator& gen, float low = 0.0f, float high = 1.0f);
void fill_normal(Tensor& t, Generator& gen, float mean = 0.0f, float stddev = 1.0f);

// Convenience constructors on any device.
Tensor randn(const Shape& shape, Generator& gen, Device device = Device::cpu());
Tensor rand(const Shape& shape, Generator& gen, Device device = Device::cpu());

// The standard draw a fill scales and shifts: uniform in [0, 1) or standard normal.
enum class Draw { Uniform, Normal };

// Element i's standard draw from the counter range starting at base_block; one formula for
// CPU and CUDA, so both devices fill the same values.
template <Draw D>
CUDL_HOST_DEVICE float standard_draw(std::uint64_t seed, std::uint64_t base_block, std::uint64_t i) {
  if constexpr (D == Draw::Uniform)
    return philox_uniform(seed, base_block, i);
  else
    return philox_normal(seed, base_block, i);
}

// offset + scale * draw with the product and the sum each rounded, on every device: nvcc
// would fuse the two into one FMA (a single rounding) and a GPU fill would then differ
// from the CPU's in the last bit of about every other value. The host needs no
// intrinsic: x86-64 without -mfma has no fused instruction to contract into.
CUDL_HOST_DEVICE float shift_scaled(float offset, float scale, float draw) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(offset, __fmul_rn(scale, draw));
#else
  return offset + scale * draw;
#endif
}

#if CUDL_WITH_CUDA
namespace cuda {
// dst[i] = shift_scaled(offset, scale, standard_draw<draw>(seed, base_block, i)) for i < n.
void fill_random(int device, float* dst, std::int64_t n, std::uint64_t seed, std::uint64_t base_block, Draw draw,
                 float offset, float scale);
}  // namespace cuda
#endif

}  // namespace cudl
