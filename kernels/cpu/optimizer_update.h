// CPU parameter updates over raw float arrays of n elements (state arrays unused
// by a rule may be null).
#pragma once

#include <cstdint>

#include "kernels/optimizer_rules.h"

namespace cudl::cpu {

// Plain loop, the rule evaluated in double (the reference).
template <template <typename> class Rule>
void optimizer_update_naive(const Rule<double>& rule, float* w, const float* g, float* s0, float* s1, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    double wi = w[i], a = s0 ? s0[i] : 0.0, b = s1 ? s1[i] : 0.0;
    rule(wi, static_cast<double>(g[i]), a, b);
    w[i] = static_cast<float>(wi);
    if (s0) s0[i] = static_cast<float>(a);
    if (s1) s1[i] = static_cast<float>(b);
  }
}

// OpenMP threads over contiguous chunks, each a float loop the compiler
// vectorises (the state count is a compile-time constant, so no branches).
template <template <typename> class Rule>
void optimizer_update_fused(const Rule<float>& rule, float* __restrict w, const float* __restrict g,
                            float* __restrict s0, float* __restrict s1, std::int64_t n) {
  constexpr int states = Rule<float>::kStates;
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (std::int64_t i = 0; i < n; ++i) {
    float wi = w[i], a = 0.0f, b = 0.0f;
    if constexpr (states >= 1) a = s0[i];
    if constexpr (states >= 2) b = s1[i];
    rule(wi, g[i], a, b);
    w[i] = wi;
    if constexpr (states >= 1) s0[i] = a;
    if constexpr (states >= 2) s1[i] = b;
  }
}

// sum(x^2) in double: serially, and with an OpenMP reduction.
double sum_of_squares_naive(const float* x, std::int64_t n);
double sum_of_squares_parallel(const float* x, std::int64_t n);
void scale_naive(float* x, std::int64_t n, float scale);
void scale_parallel(float* x, std::int64_t n, float scale);

}  // namespace cudl::cpu
