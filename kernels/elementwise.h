// Elementwise plumbing ops with torch semantics: broadcasting arithmetic, unary
// functions, scale_shift, where, masked_fill and broadcast_to. Inputs broadcast
// by numpy/torch rules (up to kMaxBroadcastDims dims); a mismatch throws
// "add: cannot broadcast [2,3] with [4]". Every result is a new tensor.
//
// Backward functions return the gradients of the inputs at the inputs' own shapes:
// the broadcast dims of the upstream gradient are summed away (sum_to_shape).
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"
#include "kernels/broadcast.h"

namespace cudl {

enum class BinaryOp { Add, Sub, Mul, Div };
enum class UnaryOp { Exp, Log, Sqrt, Square, Neg };

const char* binary_op_name(BinaryOp op);  // "add", "sub", "mul", "div" (the golden op names)
const char* unary_op_name(UnaryOp op);    // "exp", "log", "sqrt", "square", "neg"

// a op b, shaped broadcast_shapes(a, b). A scalar operand is a one-element tensor
// (shape [] or [1]): c / x is binary_forward(Div, Tensor::full({1}, c), x).
Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Impl impl = Impl::Auto);
struct BinaryGrads {
  Tensor da, db;  // shaped like a and b
};
BinaryGrads binary_backward(BinaryOp op, const Tensor& dout, const Tensor& a, const Tensor& b, Impl impl = Impl::Auto);

Tensor unary_forward(UnaryOp op, const Tensor& x, Impl impl = Impl::Auto);
// Which tensor unary_backward needs: the forward's output for exp and sqrt
// (d exp = exp, d sqrt = 1 / (2 sqrt)), its input x for the others.
bool unary_backward_uses_output(UnaryOp op);
// dx from the upstream gradient and `saved`, the tensor unary_backward_uses_output names.
Tensor unary_backward(UnaryOp op, const Tensor& dout, const Tensor& saved, Impl impl = Impl::Auto);

// scale * x + shift: x + c, x - c, x * c, x / c (scale 1/c), c - x (scale -1).
Tensor scale_shift_forward(const Tensor& x, float scale, float shift, Impl impl = Impl::Auto);
Tensor scale_shift_backward(const Tensor& dout, float scale, Impl impl = Impl::Auto);  // scale * dout

// torch.where(cond != 0, a, b), all three broadcast together. cond is float32
// (nonzero is true) or uint8.
Tensor where_forward(const Tensor& cond, const Tensor& a, const Tensor& b, Impl impl = Impl::Auto);
struct WhereGrads {
  Tensor da, db;  // dout where cond holds, and where it does not; cond gets no gradient
};
WhereGrads where_backward(const Tensor& dout, const Tensor& cond, const Shape& a_shape, const Shape& b_shape,
                          Impl impl = Impl::Auto);

// x.masked_fill(mask != 0, value): value where mask is set, x elsewhere; x and mask
// broadcast together (torch's out-of-place rule). mask is float32 or uint8.
Tensor masked_fill_forward(const Tensor& x, const Tensor& mask, float value, Impl impl = Impl::Auto);
// dx: dout where mask is clear, summed to x_shape; mask gets no gradient.
Tensor masked_fill_backward(const Tensor& dout, const Tensor& mask, const Shape& x_shape, Impl impl = Impl::Auto);

// x expanded to `shape` (torch's broadcast_to, materialised). Its backward is
// sum_to_shape (kernels/reduction.h).
Tensor broadcast_to(const Tensor& x, const Shape& shape, Impl impl = Impl::Auto);

}  // namespace cudl
