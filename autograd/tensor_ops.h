// Differentiable plumbing on Vars: broadcasting arithmetic, unary maps,
// reductions, matmul, and the shape ops that move data. Each records a backward
// that calls its kernel's `<op>_backward` (kernels/elementwise.h, reduction.h,
// matmul.h, shape.h, embedding.h, upsample_bilinear.h); semantics are torch's.
//
//   Var h = x + f(x);                     // a residual: gradients of x add up
//   auto qkv = chunk(linear(h, w, b), 3, -1);
//   Var y = matmul(q, k, false, /*trans_b=*/true) * (1 / std::sqrt(d));
#pragma once

#include <optional>
#include <vector>

#include "autograd/var.h"

namespace cudl {

// ---- elementwise, broadcasting as torch ----
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
// scale * x + shift with constants.
Var scale_shift(const Var& x, float scale, float shift);
inline Var operator+(const Var& a, const Var& b) { return add(a, b); }
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }
inline Var operator/(const Var& a, const Var& b) { return div(a, b); }
inline Var operator+(const Var& x, float c) { return scale_shift(x, 1.0f, c); }
inline Var operator-(const Var& x, float c) { return scale_shift(x, 1.0f, -c); }
inline Var operator*(const Var& x, float c) { return scale_shift(x, c, 0.0f); }
inline Var operator*(float c, const Var& x) { return scale_shift(x, c, 0.0f); }
inline Var operator-(float c, const Var& x) { return scale_shift(x, -1.0f, c); }
inline Var operator-(const Var& x) { return scale_shift(x, -1.0f, 0.0f); }

Var exp(const Var& x);
Var log(const Var& x);
Var sqrt(const Var& x);
Var square(const Var& x);

// torch.where(cond != 0, a, b) and x.masked_fill(mask != 0, value); cond and
// mask are data (float 0/1 or uint8) and broadcast.
Var where(const Tensor& cond, const Var& a, const Var& b);
Var masked_fill(const Var& x, const Tensor& mask, float value);

// ---- reductions (dims empty: all of them) ----
Var sum(const Var& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Var mean(const Var& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);

// ---- matrix products ----
// op(a) @ op(b) over the last two dims; batched, or one operand 2-D and shared.
Var matmul(const Var& a, const Var& b, bool trans_a = false, bool trans_b = false);

// ---- shape ops that copy (reshape, a view, is in autograd/functions.h) ----
Var permute(const Var& x, const std::vector<std::int64_t>& dims);
Var transpose(const Var& x, std::int64_t dim0, std::int64_t dim1);
Var concat(const std::vector<Var>& xs, std::int64_t dim);
Var slice(const Var& x, std::int64_t dim, std::int64_t start, std::int64_t end);
// torch.chunk: pieces of ceil(size / chunks) along dim.
std::vector<Var> chunk(const Var& x, std::int64_t chunks, std::int64_t dim);

// ---- lookups and resampling ----
// w[idx]: idx int64 [...] (data), w [V, D]; the padding row gets no gradient.
Var embedding(const Tensor& idx, const Var& w, std::optional<std::int64_t> padding_idx = std::nullopt);
Var upsample_bilinear2d(const Var& x, std::int64_t scale);  // align_corners=False

}  // namespace cudl
