#include "autograd/functions.h"

#include <utility>

#include "core/check.h"
#include "kernels/dropout.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/normalization.h"
#include "kernels/softmax.h"
#include "kernels/upsample.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/optimizer_update.h"
#endif

namespace cudl {

namespace {
// What every backward closure captures of an input: a view that keeps its
// storage alive until the node is released.
Tensor saved(const Var& v) { return v.value().view(); }

// t *= factor, in place on the tensor's device.
void scale_inplace(Tensor& t, float factor) {
  if (t.is_cuda()) {
#if CUDL_WITH_CUDA
    cuda::scale(t.device().index, t.data<float>(), t.numel(), factor);
#endif
    return;
  }
  float* p = t.data<float>();
  const std::int64_t n = t.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) p[i] *= factor;
}

Tensor scaled_copy(const Tensor& t, float factor) {
  Tensor out = t.clone();
  scale_inplace(out, factor);
  return out;
}

// g scaled by the one element of `scale` ([1]): a loss's gradient times its upstream gradient.
Tensor scaled(Tensor g, const Tensor& scale) {
  const float s = scale.to(Device::cpu()).item();
  return s == 1.0f ? std::move(g) : scaled_copy(g, s);
}
}  // namespace

Var linear(const Var& x, const Var& w, const Var& b) {
  const Impl impl = current_impl();
  return record("linear", linear_forward(x.value(), w.value(), b.value(), impl), {&x, &w, &b},
                [x = saved(x), w = saved(w), impl](const Tensor& g, const Node&) {
                  LinearGrads d = linear_backward(g, x, w, impl);
                  return gradients(std::move(d.dx), std::move(d.dw), std::move(d.db));
                });
}

Var conv2d(const Var& x, const Var& w, const Var& b, const Conv2dParams& p) {
  const Impl impl = current_impl();
  return record("conv2d", conv2d_forward(x.value(), w.value(), b.value(), p, impl), {&x, &w, &b},
                [x = saved(x), w = saved(w), p, impl](const Tensor& g, const Node&) {
                  Conv2dGrads d = conv2d_backward(g, x, w, p, impl);
                  return gradients(std::move(d.dx), std::move(d.dw), std::move(d.db));
                });
}

Var conv_transpose2d(const Var& x, const Var& w, const Var& b, const Conv2dParams& p) {
  const Impl impl = current_impl();
  return record("conv_transpose2d", conv_transpose2d_forward(x.value(), w.value(), b.value(), p, impl), {&x, &w, &b},
                [x = saved(x), w = saved(w), p, impl](const Tensor& g, const Node&) {
                  Conv2dGrads d = conv_transpose2d_backward(g, x, w, p, impl);
                  return gradients(std::move(d.dx), std::move(d.dw), std::move(d.db));
                });
}

Var max_pool2d(const Var& x, const Pool2dParams& p) {
  const Impl impl = current_impl();
  return record("max_pool2d", max_pool2d_forward(x.value(), p, impl), {&x},
                [x = saved(x), p, impl](const Tensor& g, const Node&) {
                  return gradients(max_pool2d_backward(g, x, p, impl));
                });
}

Var upsample_nearest2d(const Var& x, std::int64_t scale) {
  const Impl impl = current_impl();
  return record("upsample_nearest2d", upsample_nearest2d_forward(x.value(), scale, impl), {&x},
                [scale, impl](const Tensor& g, const Node&) {
                  return gradients(upsample_nearest2d_backward(g, scale, impl));
                });
}

Var activation(Activation kind, const Var& x, float negative_slope) {
  const Impl impl = current_impl();
  return record(activation_name(kind), activation_forward(kind, x.value(), negative_slope, impl), {&x},
                [kind, x = saved(x), negative_slope, impl](const Tensor& g, const Node&) {
                  return gradients(activation_backward(kind, g, x, negative_slope, impl));
                });
}

Var softmax(const Var& x) {
  const Impl impl = current_impl();
  Tensor out = softmax_forward(x.value(), impl);
  Tensor out_saved = out.view();
  return record("softmax", std::move(out), {&x}, [out = std::move(out_saved), impl](const Tensor& g, const Node&) {
    return gradients(softmax_backward(g, out, impl));
  });
}

Var dropout(const Var& x, float p, Generator& gen, bool training) {
  if (!training) return x;  // the identity: the same value, the same history
  const Impl impl = current_impl();
  DropoutResult r = dropout_forward(x.value(), p, gen, true, impl);
  return record("dropout", std::move(r.out), {&x}, [mask = std::move(r.mask), impl](const Tensor& g, const Node&) {
    return gradients(dropout_backward(g, mask, impl));
  });
}

namespace {
std::vector<Tensor> affine_grads(NormGrads d) {
  return gradients(std::move(d.dx), std::move(d.dgamma), std::move(d.dbeta));
}

// What the backward kernels read of the forward: views, since out itself is
// handed to the graph.
NormForward statistics_of(const NormForward& f) { return {f.out.view(), f.mean.view(), f.inv_std.view()}; }
}  // namespace

Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor* running_mean, Tensor* running_var,
               bool training, float momentum, float eps) {
  const Impl impl = current_impl();
  NormForward f =
      batch_norm_forward(x.value(), gamma.value(), beta.value(), running_mean, running_var, training, momentum, eps, impl);
  NormForward stats = statistics_of(f);
  return record(
      "batch_norm", std::move(f.out), {&x, &gamma, &beta},
      [x = saved(x), gamma = saved(gamma), stats = std::move(stats), training, impl](const Tensor& g, const Node&) {
        return affine_grads(batch_norm_backward(g, x, gamma, stats, training, impl));
      });
}

Var layer_norm(const Var& x, const Var& gamma, const Var& beta, float eps) {
  const Impl impl = current_impl();
  NormForward f = layer_norm_forward(x.value(), gamma.value(), beta.value(), eps, impl);
  NormForward stats = statistics_of(f);
  return record(
      "layer_norm", std::move(f.out), {&x, &gamma, &beta},
      [x = saved(x), gamma = saved(gamma), stats = std::move(stats), impl](const Tensor& g, const Node&) {
        return affine_grads(layer_norm_backward(g, x, gamma, stats, impl));
      });
}

Var group_norm(const Var& x, const Var& gamma, const Var& beta, std::int64_t groups, float eps) {
  const Impl impl = current_impl();
  NormForward f = group_norm_forward(x.value(), gamma.value(), beta.value(), groups, eps, impl);
  NormForward stats = statistics_of(f);
  return record(
      "group_norm", std::move(f.out), {&x, &gamma, &beta},
      [x = saved(x), gamma = saved(gamma), stats = std::move(stats), groups, impl](const Tensor& g, const Node&) {
        return affine_grads(group_norm_backward(g, x, gamma, stats, groups, impl));
      });
}

Var scale(const Var& x, float factor) {
  check_float("scale", "x", x.value());
  return record("scale", scaled_copy(x.value(), factor), {&x}, [factor](const Tensor& g, const Node&) {
    return gradients(scaled_copy(g, factor));
  });
}

Var reshape(const Var& x, const Shape& shape) {
  const Shape input_shape = x.shape();
  return record("reshape", x.value().reshape(shape), {&x}, [input_shape](const Tensor& g, const Node&) {
    return gradients(g.reshape(input_shape));
  });
}

Var flatten(const Var& x) {
  CUDL_CHECK(x.dim() >= 1, "flatten: expected a batch, got ", x.value().str());
  return reshape(x, {x.size(0), -1});
}

namespace {
// A loss kernel computes its gradient with the loss; backward scales it.
Var loss_result(const char* op, LossResult r, const Var& x) {
  return record(op, std::move(r.loss), {&x}, [dx = std::move(r.dx)](const Tensor& g, const Node&) {
    return gradients(scaled(dx.view(), g));
  });
}
}  // namespace

Var cross_entropy(const Var& x, const Tensor& y) {
  return loss_result("cross_entropy", cudl::cross_entropy(x.value(), y, current_impl()), x);
}
Var svm_loss(const Var& x, const Tensor& y) {
  return loss_result("svm_loss", cudl::svm_loss(x.value(), y, current_impl()), x);
}
Var bce_with_logits(const Var& x, const Tensor& target) {
  return loss_result("bce_with_logits", cudl::bce_with_logits(x.value(), target, current_impl()), x);
}
Var mse_loss(const Var& x, const Tensor& target) {
  return loss_result("mse_loss", cudl::mse_loss(x.value(), target, current_impl()), x);
}

}  // namespace cudl
