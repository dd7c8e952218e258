#include "autograd/functions.h"

#include <utility>

#include "core/check.h"
#include "kernels/ddpm_q_sample.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/normalization.h"
#include "kernels/positional_encoding.h"
#include "kernels/softmax.h"
#include "kernels/upsample.h"

namespace cudl {

namespace {
// What every backward closure captures of an input: a view that keeps its
// storage alive until the node is released.
Tensor saved(const Var& v) { return v.value().view(); }

// A loss's gradient times its upstream gradient (one element, on the device: no sync).
Tensor scaled(const Tensor& g, const Tensor& upstream, Impl impl) {
  return binary_forward(BinaryOp::Mul, g, upstream.reshape({1}), impl);
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

Var scaled_dot_product_attention(const Var& q, const Var& k, const Var& v, const AttentionOptions& options) {
  const Impl impl = current_impl();
  AttentionForward f = scaled_dot_product_attention_forward(q.value(), k.value(), v.value(), options, impl);
  Tensor out_saved = f.out.view();
  // The options' mask pointer outlives nothing: the node keeps its own view.
  Tensor mask = options.mask ? options.mask->view() : Tensor();
  return record("scaled_dot_product_attention", std::move(f.out), {&q, &k, &v},
                [q = saved(q), k = saved(k), v = saved(v), out = std::move(out_saved), lse = std::move(f.lse),
                 mask = std::move(mask), causal = options.causal, scale = options.scale,
                 impl](const Tensor& g, const Node&) {
                  const AttentionOptions o{causal, mask.defined() ? &mask : nullptr, scale};
                  AttentionGrads d = scaled_dot_product_attention_backward(g, q, k, v, out, lse, o, impl);
                  return gradients(std::move(d.dq), std::move(d.dk), std::move(d.dv));
                });
}

Var positional_encoding(const Var& x, std::int64_t max_len) {
  const Impl impl = current_impl();
  return record("positional_encoding", positional_encoding_forward(x.value(), max_len, impl), {&x},
                [impl](const Tensor& g, const Node&) { return gradients(positional_encoding_backward(g, impl)); });
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
  return record(op, std::move(r.loss), {&x}, [dx = std::move(r.dx), impl = current_impl()](const Tensor& g, const Node&) {
    return gradients(scaled(dx, g, impl));
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
Var temporal_softmax_loss(const Var& x, const Tensor& y, const Tensor& mask, TemporalLossNormalize normalize) {
  return loss_result("temporal_softmax_loss",
                     cudl::temporal_softmax_loss(x.value(), y, mask, normalize, current_impl()), x);
}

// The MSE of the scaled pair is the weighted loss; its gradient, scaled once
// more, is the weighted loss's: d/dx = sqrt_weight[t] * d/d(sqrt_weight[t] x).
Var timestep_weighted_mse_loss(const Var& x, const Tensor& target, const Tensor& t, const Tensor& sqrt_weight) {
  constexpr const char* op = "timestep_weighted_mse_loss";
  CUDL_CHECK(x.dim() >= 1, op, ": expected x [N, ...], got ", x.value().str());
  const Impl impl = current_impl();
  LossResult r = cudl::mse_loss(scale_per_timestep(x.value(), t, sqrt_weight, impl),
                                scale_per_timestep(target, t, sqrt_weight, impl), impl);
  Tensor dx = scale_per_timestep(r.dx, t, sqrt_weight, impl);
  return record(op, std::move(r.loss), {&x},
                [dx = std::move(dx), impl](const Tensor& g, const Node&) { return gradients(scaled(dx, g, impl)); });
}

Var ddpm_q_sample(const Var& x0, const Var& noise, const Tensor& t, const Tensor& x0_scale, const Tensor& noise_scale) {
  const Impl impl = current_impl();
  return record("ddpm_q_sample", ddpm_q_sample_forward(x0.value(), noise.value(), t, x0_scale, noise_scale, impl),
                {&x0, &noise},
                [t = t.view(), x0_scale = x0_scale.view(), noise_scale = noise_scale.view(), impl](const Tensor& g,
                                                                                                    const Node&) {
                  DdpmQSampleGrads d = ddpm_q_sample_backward(g, t, x0_scale, noise_scale, impl);
                  return gradients(std::move(d.dx0), std::move(d.dnoise));
                });
}

}  // namespace cudl
