#include "kernels/cpu/positional_encoding.h"

#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/positional_encoding.h"

namespace cudl::cpu {

void positional_encoding_forward_naive(const Tensor& x, Tensor& out) {
  const std::int64_t n = x.size(0), s = x.size(1), e = x.size(2);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t p = 0; p < s; ++p)
      for (std::int64_t c = 0; c < e; ++c) {
        const std::int64_t i = (b * s + p) * e + c;
        po[i] = static_cast<float>(px[i] + positional_encoding_value(p, c, e));
      }
}

void positional_encoding_forward_table(const Tensor& x, Tensor& out) {
  const std::int64_t n = x.size(0), s = x.size(1), e = x.size(2), table_size = s * e;
  std::vector<float> table(static_cast<std::size_t>(table_size));
#pragma omp parallel for schedule(static) if (table_size >= kParallelMin / 16)  // a sin or cos per entry
  for (std::int64_t i = 0; i < table_size; ++i) table[i] = static_cast<float>(positional_encoding_value(i / e, i % e, e));
  const float* px = x.data<float>();
  float* po = out.data<float>();
  const float* pe = table.data();
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
  for (std::int64_t b = 0; b < n; ++b) {
    const float* xb = px + b * table_size;
    float* ob = po + b * table_size;
#pragma omp simd
    for (std::int64_t i = 0; i < table_size; ++i) ob[i] = xb[i] + pe[i];
  }
}

}  // namespace cudl::cpu
