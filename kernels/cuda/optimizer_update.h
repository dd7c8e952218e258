// CUDA parameter updates over device float arrays. Work is queued on
// cuda::stream(device). Instantiated for the four rules of kernels/optimizer_rules.h.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/optimizer_rules.h"

namespace cudl::cuda {

// One parameter: w, its gradient g and the rule's state arrays (null when unused).
struct UpdateArrays {
  float* w;
  const float* g;
  float* s0;
  float* s1;
  std::int64_t n;
};

// One thread per element, the rule evaluated in double (the reference).
template <template <typename> class Rule>
void optimizer_update_naive(int device, const Rule<double>& rule, const UpdateArrays& p);
// One kernel for the whole update of a parameter: float4 loads and stores when
// every array is 16-byte aligned, a scalar tail, float math.
template <template <typename> class Rule>
void optimizer_update_fused(int device, const Rule<float>& rule, const UpdateArrays& p);
// Many parameters in as few launches as possible: each block updates one chunk of
// one parameter, the chunk table travelling in the kernel's arguments.
template <template <typename> class Rule>
void optimizer_update_multi(int device, const Rule<float>& rule, const std::vector<UpdateArrays>& params);

struct FloatSpan {
  const float* data;
  std::int64_t n;
};
// *sum (a device double) = sum of x^2 over all the arrays, queued without a host sync and
// the same on every run: per-block partial sums in fixed slots, then one block adds them.
void sum_of_squares(int device, const std::vector<FloatSpan>& arrays, double* sum);
void scale(int device, float* x, std::int64_t n, float scale);

}  // namespace cudl::cuda
