// The plumbing ops an autograd graph is built from (kernels/elementwise.h,
// kernels/reduction.h): every backward against finite differences, on every
// broadcast pattern, for the naive and the fast CPU implementation; torch's
// shapes and values; the error messages; uint8 conditions; determinism.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"
#include "kernels/elementwise.h"
#include "kernels/reduction.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace cudl;

namespace {

constexpr Impl kCpuImpls[] = {Impl::Naive, Impl::Fast};

Tensor normal(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn(shape, gen);
}

Tensor uniform(const Shape& shape, std::uint64_t seed, float low, float high) {
  Generator gen(seed);
  Tensor t = Tensor::empty(shape);
  fill_uniform(t, gen, low, high);
  return t;
}

Tensor mask(const Shape& shape, std::uint64_t seed) {
  Tensor t = uniform(shape, seed, 0.0f, 1.0f);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] < 0.5f ? 1.0f : 0.0f;
  return t;
}

Tensor as_uint8(const Tensor& t) {
  Tensor u = Tensor::empty(t.shape(), DType::U8);
  const float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) u.data<std::uint8_t>()[i] = p[i] != 0.0f ? 1 : 0;
  return u;
}

// For L = sum(forward() * P) with a fixed random P: the analytic gradients that
// backward(P) returns, one per input, against central differences of L.
void expect_gradients(const std::string& what, const std::function<Tensor()>& forward, const std::vector<Tensor*>& inputs,
                      const std::function<std::vector<Tensor>(const Tensor&)>& backward) {
  const Tensor projection = normal(forward().shape(), 1234);
  const std::vector<Tensor> analytic = backward(projection);
  ASSERT_EQ(analytic.size(), inputs.size()) << what;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_EQ(analytic[i].shape(), inputs[i]->shape()) << what << ": gradient " << i << " has the wrong shape";
    const std::vector<float> numeric =
        test::numeric_gradient([&] { return test::dot(forward(), projection); }, *inputs[i], 1e-2f);
    EXPECT_LE(test::relative_error(analytic[i].to_vector(), numeric), 1e-3) << what << ": gradient " << i;
  }
}

const char* impl_label(Impl impl) { return impl == Impl::Naive ? " (naive)" : " (fast)"; }

}  // namespace

TEST(Broadcast, Shapes) {
  EXPECT_EQ(broadcast_shapes("add", {2, 1, 4}, {3, 1}), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes("add", {}, {2, 3}), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes("add", {5, 1}, {1, 6}), (Shape{5, 6}));
  EXPECT_EQ(broadcast_shapes("add", {0, 1}, {1, 3}), (Shape{0, 3}));
}

TEST(Broadcast, MismatchNamesTheOpAndBothShapes) {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  EXPECT_EQ(test::error_of([&] { binary_forward(BinaryOp::Add, a, b); }), "add: cannot broadcast [2,3] with [4]");
  EXPECT_EQ(test::error_of([&] { binary_forward(BinaryOp::Div, b, a); }), "div: cannot broadcast [4] with [2,3]");
  EXPECT_EQ(test::error_of([&] { where_forward(Tensor::zeros({2}), a, a); }), "where: cannot broadcast [2] with [2,3]");
  EXPECT_EQ(test::error_of([&] { broadcast_to(a, {3, 3}); }), "broadcast_to: cannot broadcast [2,3] to [3,3]");
  EXPECT_EQ(test::error_of([&] { broadcast_to(a, {3}); }), "broadcast_to: cannot broadcast [2,3] to [3]");
  EXPECT_EQ(test::error_of([&] { sum_to_shape(a, {2}); }), "sum_to_shape: cannot sum [2,3] to [2]");
  EXPECT_EQ(test::error_of([&] { sum_to_shape(a, {1, 2, 3}); }), "sum_to_shape: cannot sum [2,3] to [1,2,3]");
  const Tensor deep = Tensor::zeros({1, 1, 1, 1, 1, 1, 1, 1, 2});
  EXPECT_NE(test::error_of([&] { binary_forward(BinaryOp::Mul, deep, deep); }).find("mul: expected at most 8 dimensions"),
            std::string::npos);
}

TEST(Broadcast, ArgumentChecks) {
  const Tensor x = Tensor::zeros({2, 3});
  const Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0, 1}, {2});
  EXPECT_EQ(test::error_of([&] { binary_forward(BinaryOp::Sub, x, labels); }),
            "sub: expected b to be float32, got int64 [2] on cpu");
  EXPECT_EQ(test::error_of([&] { where_forward(labels, x, x); }),
            "where: expected cond to be float32 or uint8, got int64 [2] on cpu");
  EXPECT_EQ(test::error_of([&] { unary_backward(UnaryOp::Log, Tensor::zeros({3}), x); }),
            "log: expected dout of shape [2,3], got float32 [3] on cpu");
  EXPECT_EQ(test::error_of([&] { binary_backward(BinaryOp::Mul, Tensor::zeros({3}), x, Tensor::zeros({3})); }),
            "mul: expected dout of shape [2,3], got float32 [3] on cpu");
}

TEST(Binary, KnownValuesWithBroadcasting) {
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor col = Tensor::from_vector(std::vector<float>{10, 20}, {2, 1});
  const Tensor two = Tensor::full({}, 2.0f);
  for (Impl impl : kCpuImpls) {
    EXPECT_EQ(binary_forward(BinaryOp::Add, a, col, impl).to_vector(), (std::vector<float>{11, 12, 13, 24, 25, 26}));
    EXPECT_EQ(binary_forward(BinaryOp::Sub, col, a, impl).to_vector(), (std::vector<float>{9, 8, 7, 16, 15, 14}));
    EXPECT_EQ(binary_forward(BinaryOp::Mul, a, two, impl).to_vector(), (std::vector<float>{2, 4, 6, 8, 10, 12}));
    EXPECT_EQ(binary_forward(BinaryOp::Div, two, a, impl).to_vector(),
              (std::vector<float>{2.0f, 1.0f, 2.0f / 3.0f, 0.5f, 0.4f, 2.0f / 6.0f}));
    // d(col - a)/d col sums dout over the broadcast dim; d/da is -dout.
    const BinaryGrads g = binary_backward(BinaryOp::Sub, Tensor::full({2, 3}, 1.0f), col, a, impl);
    EXPECT_EQ(g.da.shape(), (Shape{2, 1}));
    EXPECT_EQ(g.da.to_vector(), (std::vector<float>{3, 3}));
    EXPECT_EQ(g.db.to_vector(), (std::vector<float>(6, -1.0f)));
  }
}

TEST(Binary, GradientsMatchFiniteDifferences) {
  struct Case {
    Shape a, b;
  };
  const Case cases[] = {{{3, 4}, {3, 4}},       {{2, 3, 4}, {4}},          {{2, 1, 4}, {3, 1}},
                        {{}, {2, 3}},           {{4, 3}, {1}},             {{2, 3, 2, 2}, {1, 3, 1, 1}},
                        {{2, 1, 3, 1, 2, 2}, {1, 2, 1, 2, 1, 2}}};
  for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div})
    for (const Case& c : cases)
      for (Impl impl : kCpuImpls) {
        Tensor a = normal(c.a, 1);
        // A divisor kept away from 0, so that the quotient stays smooth within a step.
        Tensor b = op == BinaryOp::Div ? uniform(c.b, 2, 0.5f, 1.5f) : normal(c.b, 2);
        const std::string what = std::string(binary_op_name(op)) + " " + shape_str(c.a) + " with " + shape_str(c.b) +
                                 impl_label(impl);
        expect_gradients(what, [&] { return binary_forward(op, a, b, impl); }, {&a, &b}, [&](const Tensor& dout) {
          BinaryGrads g = binary_backward(op, dout, a, b, impl);
          std::vector<Tensor> grads;
          grads.push_back(std::move(g.da));
          grads.push_back(std::move(g.db));
          return grads;
        });
      }
}

TEST(Unary, KnownValues) {
  const Tensor x = Tensor::from_vector(std::vector<float>{0.25f, 1.0f, 4.0f}, {3});
  for (Impl impl : kCpuImpls) {
    EXPECT_EQ(unary_forward(UnaryOp::Sqrt, x, impl).to_vector(), (std::vector<float>{0.5f, 1.0f, 2.0f}));
    EXPECT_EQ(unary_forward(UnaryOp::Square, x, impl).to_vector(), (std::vector<float>{0.0625f, 1.0f, 16.0f}));
    EXPECT_EQ(unary_forward(UnaryOp::Neg, x, impl).to_vector(), (std::vector<float>{-0.25f, -1.0f, -4.0f}));
    EXPECT_EQ(unary_forward(UnaryOp::Log, x, impl).to_vector()[1], 0.0f);
    EXPECT_NEAR(unary_forward(UnaryOp::Exp, x, impl).to_vector()[1], 2.718281828459045, 1e-6);
    EXPECT_EQ(scale_shift_forward(x, -2.0f, 1.0f, impl).to_vector(), (std::vector<float>{0.5f, -1.0f, -7.0f}));
  }
  EXPECT_TRUE(unary_backward_uses_output(UnaryOp::Exp));
  EXPECT_TRUE(unary_backward_uses_output(UnaryOp::Sqrt));
  EXPECT_FALSE(unary_backward_uses_output(UnaryOp::Log));
}

TEST(Unary, GradientsMatchFiniteDifferences) {
  for (UnaryOp op : {UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Square, UnaryOp::Neg})
    for (Impl impl : kCpuImpls) {
      Tensor x = op == UnaryOp::Log || op == UnaryOp::Sqrt ? uniform({3, 5}, 3, 0.5f, 2.0f) : normal({3, 5}, 3);
      expect_gradients(std::string(unary_op_name(op)) + impl_label(impl), [&] { return unary_forward(op, x, impl); },
                       {&x}, [&](const Tensor& dout) {
                         const Tensor out = unary_forward(op, x, impl);
                         std::vector<Tensor> grads;
                         grads.push_back(unary_backward(op, dout, unary_backward_uses_output(op) ? out : x, impl));
                         return grads;
                       });
    }
  for (Impl impl : kCpuImpls) {
    Tensor x = normal({4, 3}, 4);
    expect_gradients(std::string("scale_shift") + impl_label(impl),
                     [&] { return scale_shift_forward(x, -1.5f, 0.25f, impl); }, {&x}, [&](const Tensor& dout) {
                       std::vector<Tensor> grads;
                       grads.push_back(scale_shift_backward(dout, -1.5f, impl));
                       return grads;
                     });
  }
}

TEST(WhereMaskedFill, KnownValuesAndUint8Conditions) {
  const Tensor cond = Tensor::from_vector(std::vector<float>{1, 0, 1}, {1, 3});
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = Tensor::full({}, -1.0f);
  for (Impl impl : kCpuImpls) {
    EXPECT_EQ(where_forward(cond, a, b, impl).to_vector(), (std::vector<float>{1, -1, 3, 4, -1, 6}));
    EXPECT_EQ(where_forward(as_uint8(cond), a, b, impl).to_vector(), (std::vector<float>{1, -1, 3, 4, -1, 6}));
    EXPECT_EQ(masked_fill_forward(a, as_uint8(cond), 9.0f, impl).to_vector(), (std::vector<float>{9, 2, 9, 9, 5, 9}));
    const WhereGrads g = where_backward(Tensor::full({2, 3}, 1.0f), as_uint8(cond), a.shape(), b.shape(), impl);
    EXPECT_EQ(g.da.to_vector(), (std::vector<float>{1, 0, 1, 1, 0, 1}));
    EXPECT_EQ(g.db.shape(), Shape{});
    EXPECT_EQ(g.db.to_vector(), (std::vector<float>{2}));
  }
}

TEST(WhereMaskedFill, GradientsMatchFiniteDifferences) {
  for (Impl impl : kCpuImpls) {
    const Tensor cond = mask({1, 4}, 5);
    Tensor a = normal({3, 4}, 6), b = normal({3, 1}, 7);
    expect_gradients(std::string("where") + impl_label(impl), [&] { return where_forward(cond, a, b, impl); },
                     {&a, &b}, [&](const Tensor& dout) {
                       WhereGrads g = where_backward(dout, cond, a.shape(), b.shape(), impl);
                       std::vector<Tensor> grads;
                       grads.push_back(std::move(g.da));
                       grads.push_back(std::move(g.db));
                       return grads;
                     });
    const Tensor m = mask({3, 4}, 8);
    Tensor x = normal({3, 1}, 9);
    expect_gradients(std::string("masked_fill") + impl_label(impl),
                     [&] { return masked_fill_forward(x, m, -2.0f, impl); }, {&x}, [&](const Tensor& dout) {
                       std::vector<Tensor> grads;
                       grads.push_back(masked_fill_backward(dout, m, x.shape(), impl));
                       return grads;
                     });
  }
}

TEST(Reduction, ShapesAndValues) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  for (Impl impl : kCpuImpls) {
    const Tensor all = sum_forward(x, {}, false, impl);
    EXPECT_EQ(all.shape(), Shape{});
    EXPECT_EQ(all.item(), 21.0f);
    EXPECT_EQ(sum_forward(x, {}, true, impl).shape(), (Shape{1, 1}));
    EXPECT_EQ(sum_forward(x, {0}, false, impl).to_vector(), (std::vector<float>{5, 7, 9}));
    const Tensor rows = mean_forward(x, {-1}, true, impl);
    EXPECT_EQ(rows.shape(), (Shape{2, 1}));
    EXPECT_EQ(rows.to_vector(), (std::vector<float>{2, 5}));
    EXPECT_EQ(sum_to_shape(x, {3}, impl).to_vector(), (std::vector<float>{5, 7, 9}));
    EXPECT_EQ(sum_to_shape(x, {2, 1}, impl).to_vector(), (std::vector<float>{6, 15}));
    EXPECT_EQ(broadcast_to(rows, {2, 3}, impl).to_vector(), (std::vector<float>{2, 2, 2, 5, 5, 5}));
    EXPECT_EQ(mean_backward(Tensor::full({3}, 6.0f), {2, 3}, {0}, false, impl).to_vector(),
              (std::vector<float>(6, 3.0f)));
  }
  EXPECT_EQ(test::error_of([&] { sum_forward(x, {2}); }), "sum: dim 2 out of range for shape [2,3]");
  EXPECT_EQ(test::error_of([&] { mean_forward(x, {1, -1}); }), "mean: dim -1 given twice");
  EXPECT_EQ(test::error_of([&] { sum_backward(Tensor::zeros({2}), {2, 3}, {0}); }),
            "sum: expected dout of shape [3], got float32 [2] on cpu");
}

TEST(Reduction, GradientsMatchFiniteDifferences) {
  struct Case {
    Shape x;
    std::vector<std::int64_t> dims;
    bool keepdim;
  };
  const Case cases[] = {{{3, 4, 5}, {}, false},    {{3, 4, 5}, {1}, false}, {{3, 4, 5}, {0, 2}, true},
                        {{2, 3, 2, 2}, {0, 2, 3}, true}, {{5, 6}, {-1}, false}};
  for (bool mean : {false, true})
    for (const Case& c : cases)
      for (Impl impl : kCpuImpls) {
        Tensor x = normal(c.x, 10);
        const std::string what = std::string(mean ? "mean " : "sum ") + shape_str(c.x) + impl_label(impl);
        expect_gradients(what,
                         [&] { return mean ? mean_forward(x, c.dims, c.keepdim, impl) : sum_forward(x, c.dims, c.keepdim, impl); },
                         {&x}, [&](const Tensor& dout) {
                           std::vector<Tensor> grads;
                           grads.push_back(mean ? mean_backward(dout, x.shape(), c.dims, c.keepdim, impl)
                                                : sum_backward(dout, x.shape(), c.dims, c.keepdim, impl));
                           return grads;
                         });
      }
  // sum_to_shape and broadcast_to are each other's backward.
  for (Impl impl : kCpuImpls) {
    Tensor x = normal({2, 3, 4}, 11), small = normal({3, 1}, 12);
    expect_gradients(std::string("sum_to_shape") + impl_label(impl), [&] { return sum_to_shape(x, {3, 1}, impl); },
                     {&x}, [&](const Tensor& dout) {
                       std::vector<Tensor> grads;
                       grads.push_back(broadcast_to(dout, x.shape(), impl));
                       return grads;
                     });
    expect_gradients(std::string("broadcast_to") + impl_label(impl), [&] { return broadcast_to(small, {2, 3, 4}, impl); },
                     {&small}, [&](const Tensor& dout) {
                       std::vector<Tensor> grads;
                       grads.push_back(sum_to_shape(dout, small.shape(), impl));
                       return grads;
                     });
  }
}

// A full sum large enough to be split into parts and threads: the fast CPU sum
// must equal the double-precision reference to float rounding, the same every run.
TEST(Reduction, LargeSumIsAccurateAndRepeatable) {
  const Tensor x = uniform({3, 1 << 20}, 13, 0.0f, 1.0f);
  const float reference = sum_forward(x, {}, false, Impl::Naive).item();
  const float fast = sum_forward(x, {}, false, Impl::Fast).item();
  EXPECT_NEAR(fast, reference, 1e-6 * reference);
  for (int run = 0; run < 3; ++run) EXPECT_EQ(sum_forward(x, {}, false, Impl::Fast).item(), fast);
}

TEST(ElementwiseCuda, MatchesCpuWithUint8ConditionsAndRepeats) {
  CUDL_REQUIRE_CUDA();
  const Tensor cond = mask({4, 1, 6}, 14), a = normal({4, 5, 6}, 15), b = normal({5, 1}, 16);
  const Tensor want = where_forward(cond, a, b, Impl::Naive);
  const Tensor ucond = as_uint8(cond).to(Device::cuda()), ga = a.to(Device::cuda()), gb = b.to(Device::cuda());
  for (Impl impl : kCpuImpls) {
    EXPECT_EQ(where_forward(ucond, ga, gb, impl).to_vector(), want.to_vector()) << impl_name(impl);
    EXPECT_EQ(masked_fill_forward(ga, ucond, 3.0f, impl).to_vector(),
              masked_fill_forward(a, cond, 3.0f, Impl::Naive).to_vector())
        << impl_name(impl);
  }
  const Tensor big = uniform({3, 1 << 22}, 17, 0.0f, 1.0f);
  const Tensor gbig = big.to(Device::cuda());
  const float reference = sum_forward(big, {}, false, Impl::Naive).item();
  const float first = sum_forward(gbig, {}, false, Impl::Fast).item();
  EXPECT_NEAR(first, reference, 1e-6 * reference);
  for (int run = 0; run < 3; ++run) EXPECT_EQ(sum_forward(gbig, {}, false, Impl::Fast).item(), first);
}
