// A batch of row-major single-precision GEMMs of one size, as matmul hands it to
// a backend: product i computes C_i = op(A_i) op(B_i) (+ C_i) with
// A_i = a + i*stride_a, B_i = b + i*stride_b, C_i = c + i*stride_c. A stride of 0
// on a or b shares that operand across the batch; a stride of 0 on c sums every
// product into the one C (the gradient of a shared operand).
#pragma once

#include <cstdint>

namespace cudl {

struct BatchedGemm {
  bool trans_a = false, trans_b = false;
  std::int64_t m = 0, n = 0, k = 0;  // op(A) is m x k, op(B) is k x n
  const float* a = nullptr;
  std::int64_t lda = 0, stride_a = 0;
  const float* b = nullptr;
  std::int64_t ldb = 0, stride_b = 0;
  float* c = nullptr;
  std::int64_t ldc = 0, stride_c = 0;
  std::int64_t batch = 1;

  bool sums_into_c() const { return stride_c == 0 && batch > 1; }
};

}  // namespace cudl
