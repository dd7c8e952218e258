#include "autograd/tensor_ops.h"

#include <utility>

#include "core/check.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"
#include "kernels/matmul.h"
#include "kernels/reduction.h"
#include "kernels/shape.h"
#include "kernels/upsample_bilinear.h"

namespace cudl {

namespace {
Tensor saved(const Var& v) { return v.value().view(); }

// The gradient of a broadcast input: dout summed down to the input's shape
// (a view when nothing was broadcast).
Tensor reduced_to(const Tensor& g, const Shape& shape, Impl impl) {
  return g.shape() == shape ? g.view() : sum_to_shape(g, shape, impl);
}

// add and sub need only the shapes; mul and div the values.
Var additive(BinaryOp op, const Var& a, const Var& b) {
  const Impl impl = current_impl();
  return record(binary_op_name(op), binary_forward(op, a.value(), b.value(), impl), {&a, &b},
                [op, a_shape = a.shape(), b_shape = b.shape(), impl](const Tensor& g, const Node& node) {
                  Tensor da, db;
                  if (node.needs_grad(0)) da = reduced_to(g, a_shape, impl);
                  if (node.needs_grad(1)) {
                    db = reduced_to(g, b_shape, impl);
                    if (op == BinaryOp::Sub) db = scale_shift_forward(db, -1.0f, 0.0f, impl);
                  }
                  return gradients(std::move(da), std::move(db));
                });
}

Var multiplicative(BinaryOp op, const Var& a, const Var& b) {
  const Impl impl = current_impl();
  return record(binary_op_name(op), binary_forward(op, a.value(), b.value(), impl), {&a, &b},
                [op, a = saved(a), b = saved(b), impl](const Tensor& g, const Node&) {
                  BinaryGrads d = binary_backward(op, g, a, b, impl);
                  return gradients(std::move(d.da), std::move(d.db));
                });
}

Var unary(UnaryOp op, const Var& x) {
  const Impl impl = current_impl();
  Tensor out = unary_forward(op, x.value(), impl);
  Tensor keep = unary_backward_uses_output(op) ? out.view() : saved(x);
  return record(unary_op_name(op), std::move(out), {&x}, [op, keep = std::move(keep), impl](const Tensor& g, const Node&) {
    return gradients(unary_backward(op, g, keep, impl));
  });
}
}  // namespace

Var add(const Var& a, const Var& b) { return additive(BinaryOp::Add, a, b); }
Var sub(const Var& a, const Var& b) { return additive(BinaryOp::Sub, a, b); }
Var mul(const Var& a, const Var& b) { return multiplicative(BinaryOp::Mul, a, b); }
Var div(const Var& a, const Var& b) { return multiplicative(BinaryOp::Div, a, b); }

Var scale_shift(const Var& x, float scale, float shift) {
  const Impl impl = current_impl();
  return record("scale_shift", scale_shift_forward(x.value(), scale, shift, impl), {&x},
                [scale, impl](const Tensor& g, const Node&) {
                  return gradients(scale_shift_backward(g, scale, impl));
                });
}

Var exp(const Var& x) { return unary(UnaryOp::Exp, x); }
Var log(const Var& x) { return unary(UnaryOp::Log, x); }
Var sqrt(const Var& x) { return unary(UnaryOp::Sqrt, x); }
Var square(const Var& x) { return unary(UnaryOp::Square, x); }

Var where(const Tensor& cond, const Var& a, const Var& b) {
  const Impl impl = current_impl();
  return record("where", where_forward(cond, a.value(), b.value(), impl), {&a, &b},
                [cond = cond.view(), a_shape = a.shape(), b_shape = b.shape(), impl](const Tensor& g, const Node&) {
                  WhereGrads d = where_backward(g, cond, a_shape, b_shape, impl);
                  return gradients(std::move(d.da), std::move(d.db));
                });
}

Var masked_fill(const Var& x, const Tensor& mask, float value) {
  const Impl impl = current_impl();
  return record("masked_fill", masked_fill_forward(x.value(), mask, value, impl), {&x},
                [mask = mask.view(), x_shape = x.shape(), impl](const Tensor& g, const Node&) {
                  return gradients(masked_fill_backward(g, mask, x_shape, impl));
                });
}

Var sum(const Var& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  const Impl impl = current_impl();
  return record("sum", sum_forward(x.value(), dims, keepdim, impl), {&x},
                [x_shape = x.shape(), dims, keepdim, impl](const Tensor& g, const Node&) {
                  return gradients(sum_backward(g, x_shape, dims, keepdim, impl));
                });
}

Var mean(const Var& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  const Impl impl = current_impl();
  return record("mean", mean_forward(x.value(), dims, keepdim, impl), {&x},
                [x_shape = x.shape(), dims, keepdim, impl](const Tensor& g, const Node&) {
                  return gradients(mean_backward(g, x_shape, dims, keepdim, impl));
                });
}

Var matmul(const Var& a, const Var& b, bool trans_a, bool trans_b) {
  const Impl impl = current_impl();
  return record("matmul", matmul_forward(a.value(), b.value(), trans_a, trans_b, impl), {&a, &b},
                [a = saved(a), b = saved(b), trans_a, trans_b, impl](const Tensor& g, const Node&) {
                  MatmulGrads d = matmul_backward(g, a, b, trans_a, trans_b, impl);
                  return gradients(std::move(d.da), std::move(d.db));
                });
}

Var permute(const Var& x, const std::vector<std::int64_t>& dims) {
  const Impl impl = current_impl();
  return record("permute", permute_forward(x.value(), dims, impl), {&x}, [dims, impl](const Tensor& g, const Node&) {
    return gradients(permute_backward(g, dims, impl));
  });
}

Var transpose(const Var& x, std::int64_t dim0, std::int64_t dim1) {
  const Impl impl = current_impl();
  return record("transpose", transpose_forward(x.value(), dim0, dim1, impl), {&x},
                [dim0, dim1, impl](const Tensor& g, const Node&) {
                  return gradients(transpose_forward(g, dim0, dim1, impl));
                });
}

Var concat(const std::vector<Var>& xs, std::int64_t dim) {
  const Impl impl = current_impl();
  std::vector<const Tensor*> values;
  std::vector<const Var*> inputs;
  std::vector<std::int64_t> sizes;
  for (const Var& x : xs) {
    CUDL_CHECK(x.defined(), "concat: an input is undefined");
    values.push_back(&x.value());
    inputs.push_back(&x);
  }
  Tensor out = concat_forward(values, dim, impl);
  const std::int64_t d = dim < 0 ? dim + out.dim() : dim;
  for (const Var& x : xs) sizes.push_back(x.size(d));
  return record("concat", std::move(out), inputs, [sizes, dim, impl](const Tensor& g, const Node&) {
    return concat_backward(g, sizes, dim, impl);
  });
}

Var slice(const Var& x, std::int64_t dim, std::int64_t start, std::int64_t end) {
  const Impl impl = current_impl();
  Tensor out = slice_forward(x.value(), dim, start, end, impl);
  return record("slice", std::move(out), {&x}, [x_shape = x.shape(), dim, start, impl](const Tensor& g, const Node&) {
    return gradients(slice_backward(g, x_shape, dim, start, impl));
  });
}

std::vector<Var> chunk(const Var& x, std::int64_t chunks, std::int64_t dim) {
  CUDL_CHECK(chunks >= 1, "chunk: expected chunks >= 1, got ", chunks);
  CUDL_CHECK(dim >= -x.dim() && dim < x.dim(), "chunk: dim ", dim, " is out of range for ", x.value().str());
  const std::int64_t d = dim < 0 ? dim + x.dim() : dim, size = x.size(d), step = (size + chunks - 1) / chunks;
  std::vector<Var> pieces;
  for (std::int64_t start = 0; start < size; start += step) pieces.push_back(slice(x, d, start, std::min(size, start + step)));
  return pieces;
}

Var embedding(const Tensor& idx, const Var& w, std::optional<std::int64_t> padding_idx) {
  const Impl impl = current_impl();
  return record("embedding", embedding_forward(idx, w.value(), impl), {&w},
                [idx = idx.view(), rows = w.size(0), padding_idx, impl](const Tensor& g, const Node&) {
                  return gradients(embedding_backward(g, idx, rows, padding_idx, impl));
                });
}

Var upsample_bilinear2d(const Var& x, std::int64_t scale) {
  const Impl impl = current_impl();
  return record("upsample_bilinear2d", upsample_bilinear2d_forward(x.value(), scale, impl), {&x},
                [scale, impl](const Tensor& g, const Node&) {
                  return gradients(upsample_bilinear2d_backward(g, scale, impl));
                });
}

}  // namespace cudl
