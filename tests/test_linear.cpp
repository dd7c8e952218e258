// linear's argument checks (the numerics are covered by the golden cases and the
// registry-wide agreement tests).
#include <gtest/gtest.h>

#include <string>

#include "kernels/linear.h"
#include "tests/test_util.h"

namespace cudl {
namespace {

// A weight with a zero dimension once reached an integer division by D (SIGFPE)
// on every path and leading dimensions of 0 in cuBLAS: it must be an Error.
TEST(Linear, WeightWithAZeroDimensionIsAnError) {
  for (const Shape& w_shape : {Shape{3, 0}, Shape{0, 4}}) {
    Tensor x = Tensor::zeros({2, w_shape[1]}), w = Tensor::zeros(w_shape), b = Tensor::zeros({w_shape[0]});
    Tensor dout = Tensor::zeros({2, w_shape[0]});
    for (Impl impl : {Impl::Naive, Impl::Auto}) {
      try {
        linear_forward(x, w, b, impl);
        FAIL() << "linear accepted w " << shape_str(w_shape);
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("linear"), std::string::npos) << e.what();
      }
      EXPECT_THROW(linear_backward(dout, x, w, impl), Error) << shape_str(w_shape);
    }
  }
}

}  // namespace
}  // namespace cudl
