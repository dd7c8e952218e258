// batch_norm, layer_norm, group_norm: argument checks, dispatch, registry entries.
#include "kernels/normalization.h"

#include <functional>
#include <memory>

#include "core/check.h"
#include "kernels/cpu/normalization.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/normalization.h"
#endif

namespace cudl {

namespace {
struct BatchNormKernels {
  void (*forward)(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean, Tensor* running_var,
                  bool training, float momentum, float eps, NormForward& saved);
  void (*backward)(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved, bool training,
                   NormGrads& grads);
};

// On CUDA, cuDNN is the fastest and so Auto; cuda_fast is our own fused pair.
const VariantTable<BatchNormKernels>& batch_norm_variants() {
  static const VariantTable<BatchNormKernels> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, {cpu::batch_norm_forward_fused, cpu::batch_norm_backward_fused}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::batch_norm_forward_naive, cpu::batch_norm_backward_naive}},
#if CUDL_WITH_CUDA
#if CUDL_WITH_CUDNN
      {"cudnn", DeviceType::CUDA, VariantKind::Vendor, {cuda::batch_norm_forward_cudnn, cuda::batch_norm_backward_cudnn}},
#endif
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast,
       {cuda::batch_norm_forward_fused, cuda::batch_norm_backward_fused}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive,
       {cuda::batch_norm_forward_naive, cuda::batch_norm_backward_naive}},
#endif
  }};
  return table;
}

// group_norm's kernels, which layer_norm runs as one group of [rows, D, 1].
struct GroupNormKernels {
  void (*forward)(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups, float eps,
                  NormForward& saved);
  void (*backward)(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                   std::int64_t groups, NormGrads& grads);
};

const VariantTable<GroupNormKernels>& group_norm_variants() {
  static const VariantTable<GroupNormKernels> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, {cpu::group_norm_forward_fused, cpu::group_norm_backward_fused}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::group_norm_forward_naive, cpu::group_norm_backward_naive}},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast,
       {cuda::group_norm_forward_fused, cuda::group_norm_backward_fused}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive,
       {cuda::group_norm_forward_naive, cuda::group_norm_backward_naive}},
#endif
  }};
  return table;
}

void check_param(const char* op, const char* name, const Tensor& t, std::int64_t channels) {
  check_float(op, name, t);
  check_shape(op, name, t, {channels});
}

void check_input(const char* op, const Tensor& x) {
  check_float(op, "x", x);
  CUDL_CHECK(x.numel() > 0, op, ": expected a non-empty x, got ", x.str());
}

void check_saved(const char* op, const NormForward& saved, const Shape& stats_shape) {
  check_float(op, "saved.mean", saved.mean);
  check_shape(op, "saved.mean", saved.mean, stats_shape);
  check_float(op, "saved.inv_std", saved.inv_std);
  check_shape(op, "saved.inv_std", saved.inv_std, stats_shape);
}

void check_dout(const char* op, const Tensor& dout, const Tensor& x) {
  check_float(op, "dout", dout);
  CUDL_CHECK(dout.shape() == x.shape(), op, ": expected dout of shape ", shape_str(x.shape()), ", got ", dout.str());
}

NormForward empty_forward(const Tensor& x, const Shape& stats_shape) {
  return {Tensor::empty(x.shape(), DType::F32, x.device()), Tensor::empty(stats_shape, DType::F32, x.device()),
          Tensor::empty(stats_shape, DType::F32, x.device())};
}

NormGrads empty_grads(const Tensor& x, std::int64_t channels) {
  return {Tensor::empty(x.shape(), DType::F32, x.device()), Tensor::empty({channels}, DType::F32, x.device()),
          Tensor::empty({channels}, DType::F32, x.device())};
}

// ---- batch norm ----
std::int64_t check_batch_norm_input(const Tensor& x) {
  check_input("batch_norm", x);
  CUDL_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: expected x of shape [N, D] or [N, C, H, W], got ", x.str());
  return x.size(1);
}
}  // namespace

NormForward batch_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor* running_mean,
                               Tensor* running_var, bool training, float momentum, float eps, Impl impl) {
  const char* op = "batch_norm";
  const std::int64_t channels = check_batch_norm_input(x);
  check_param(op, "gamma", gamma, channels);
  check_param(op, "beta", beta, channels);
  check_same_device(op, {{"x", &x}, {"gamma", &gamma}, {"beta", &beta}});
  CUDL_CHECK((running_mean == nullptr) == (running_var == nullptr),
             "batch_norm: running_mean and running_var must be given together");
  CUDL_CHECK(training || running_mean, "batch_norm: eval mode needs running_mean and running_var");
  if (running_mean) {
    check_param(op, "running_mean", *running_mean, channels);
    check_param(op, "running_var", *running_var, channels);
    check_same_device(op, {{"x", &x}, {"running_mean", running_mean}, {"running_var", running_var}});
  }
  // As in PyTorch: one value per channel has no batch variance.
  CUDL_CHECK(!training || x.numel() / channels > 1, "batch_norm: training needs more than one value per channel, got ",
             x.str());
  CUDL_CHECK(eps >= 0.0f && momentum >= 0.0f && momentum <= 1.0f,
             "batch_norm: expected eps >= 0 and momentum in [0, 1], got eps ", eps, ", momentum ", momentum);
  NormForward saved = empty_forward(x, {channels});
  batch_norm_variants().select(op, x.device(), impl).forward(x, gamma, beta, running_mean, running_var, training,
                                                           momentum, eps, saved);
  return saved;
}

NormGrads batch_norm_backward(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                              bool training, Impl impl) {
  const char* op = "batch_norm";
  const std::int64_t channels = check_batch_norm_input(x);
  check_param(op, "gamma", gamma, channels);
  check_dout(op, dout, x);
  check_saved(op, saved, {channels});
  check_same_device(op, {{"x", &x}, {"gamma", &gamma}, {"dout", &dout}, {"saved.mean", &saved.mean},
                         {"saved.inv_std", &saved.inv_std}});
  NormGrads grads = empty_grads(x, channels);
  batch_norm_variants().select(op, x.device(), impl).backward(dout, x, gamma, saved, training, grads);
  return grads;
}

// ---- group norm, and layer norm as group norm of [rows, D, 1] with one group ----
namespace {
void grouped_forward(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups,
                     float eps, Impl impl, NormForward& saved) {
  CUDL_CHECK(eps >= 0.0f, op, ": expected eps >= 0, got ", eps);
  group_norm_variants().select(op, x.device(), impl).forward(x, gamma, beta, groups, eps, saved);
}

void grouped_backward(const char* op, const Tensor& dout, const Tensor& x, const Tensor& gamma,
                      const NormForward& saved, std::int64_t groups, Impl impl, NormGrads& grads) {
  group_norm_variants().select(op, x.device(), impl).backward(dout, x, gamma, saved, groups, grads);
}

// Views of a layer norm's tensors as group norm's [rows, D, 1] and [rows, 1].
Shape layer_rows(const Tensor& x) { return {x.numel() / x.size(-1), x.size(-1), 1}; }
NormForward layer_view(const NormForward& f, const Shape& rows) {
  return {f.out.reshape(rows), f.mean.reshape({rows[0], 1}), f.inv_std.reshape({rows[0], 1})};
}

std::int64_t check_layer_norm_input(const Tensor& x) {
  check_input("layer_norm", x);
  return x.size(-1);
}

std::int64_t check_group_norm_input(const Tensor& x, std::int64_t groups) {
  check_input("group_norm", x);
  CUDL_CHECK(x.dim() == 4, "group_norm: expected x of shape [N, C, H, W], got ", x.str());
  CUDL_CHECK(groups > 0 && x.size(1) % groups == 0, "group_norm: groups (", groups, ") must divide the ",
             x.size(1), " channels of x ", shape_str(x.shape()));
  return x.size(1);
}
}  // namespace

NormForward layer_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps, Impl impl) {
  const char* op = "layer_norm";
  const std::int64_t d = check_layer_norm_input(x);
  check_param(op, "gamma", gamma, d);
  check_param(op, "beta", beta, d);
  check_same_device(op, {{"x", &x}, {"gamma", &gamma}, {"beta", &beta}});
  const Shape rows = layer_rows(x);
  NormForward saved = empty_forward(x, {rows[0]});
  NormForward view = layer_view(saved, rows);
  grouped_forward(op, x.reshape(rows), gamma, beta, 1, eps, impl, view);
  return saved;
}

NormGrads layer_norm_backward(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                              Impl impl) {
  const char* op = "layer_norm";
  const std::int64_t d = check_layer_norm_input(x);
  check_param(op, "gamma", gamma, d);
  check_dout(op, dout, x);
  const Shape rows = layer_rows(x);
  check_saved(op, saved, {rows[0]});
  check_same_device(op, {{"x", &x}, {"gamma", &gamma}, {"dout", &dout}, {"saved.mean", &saved.mean},
                         {"saved.inv_std", &saved.inv_std}});
  NormGrads grads = empty_grads(x, d);
  NormGrads view{grads.dx.reshape(rows), grads.dgamma.view(), grads.dbeta.view()};
  grouped_backward(op, dout.reshape(rows), x.reshape(rows), gamma, layer_view(saved, rows), 1, impl, view);
  return grads;
}

NormForward group_norm_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, std::int64_t groups,
                               float eps, Impl impl) {
  const char* op = "group_norm";
  const std::int64_t channels = check_group_norm_input(x, groups);
  check_param(op, "gamma", gamma, channels);
  check_param(op, "beta", beta, channels);
  check_same_device(op, {{"x", &x}, {"gamma", &gamma}, {"beta", &beta}});
  NormForward saved = empty_forward(x, {x.size(0), groups});
  grouped_forward(op, x, gamma, beta, groups, eps, impl, saved);
  return saved;
}

NormGrads group_norm_backward(const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& saved,
                              std::int64_t groups, Impl impl) {
  const char* op = "group_norm";
  const std::int64_t channels = check_group_norm_input(x, groups);
  check_param(op, "gamma", gamma, channels);
  check_dout(op, dout, x);
  check_saved(op, saved, {x.size(0), groups});
  check_same_device(op, {{"x", &x}, {"gamma", &gamma}, {"dout", &dout}, {"saved.mean", &saved.mean},
                         {"saved.inv_std", &saved.inv_std}});
  NormGrads grads = empty_grads(x, channels);
  grouped_backward(op, dout, x, gamma, saved, groups, impl, grads);
  return grads;
}

// ---- registry entries ----
namespace {
// Per element: statistics (2), normalise (2) forward; sums (3) and dx (5) backward.
double norm_flops(const TensorMap& in, const Attrs&) { return 4.0 * double(in.at("x").numel()); }
double norm_backward_flops(const TensorMap& in, const Attrs&) { return 8.0 * double(in.at("x").numel()); }
// Forward reads x and writes out; backward reads x and dout and writes dx.
double norm_bytes(const TensorMap& in, const Attrs&) { return 4.0 * 2.0 * double(in.at("x").numel()); }
double norm_backward_bytes(const TensorMap& in, const Attrs&) { return 4.0 * 3.0 * double(in.at("x").numel()); }

// make_timed for the norms: `forward` runs the op on workspace tensors, `backward`
// differentiates a saved forward pass.
using NormForwardCall = std::function<NormForward()>;
using NormBackwardCall = std::function<void(const Tensor& dout, const NormForward& saved)>;
std::function<void()> timed_norm(TensorMap& ws, bool backward, NormForwardCall forward, NormBackwardCall grads) {
  if (!backward) return [forward] { forward(); };
  auto saved = std::make_shared<NormForward>(forward());
  const Tensor& dout = timed_upstream_gradient(ws, saved->out);
  return [grads, &dout, saved] { grads(dout, *saved); };
}

void put_grads(TensorMap& results, const NormGrads& g) {
  put_result(results, "dx", g.dx);
  put_result(results, "dgamma", g.dgamma);
  put_result(results, "dbeta", g.dbeta);
}

// An OpDef with what the three normalisations share: name, implementations, cost model.
OpDef norm_op_def(const char* name, std::vector<Implementation> implementations) {
  OpDef def;
  def.name = name;
  def.implementations = std::move(implementations);
  def.flops = norm_flops;
  def.bytes = norm_bytes;
  def.backward_flops = norm_backward_flops;
  def.backward_bytes = norm_backward_bytes;
  return def;
}

// layer_norm and group_norm through the registry: x, gamma, beta (and eps) in; out, and with
// gradients dx, dgamma, dbeta, back. forward(attrs, x, gamma, beta, eps, impl) and
// backward(attrs, dout, x, gamma, saved, impl) call the op, reading any other attribute it takes.
template <typename Forward, typename Backward>
auto affine_norm_runner(const char* op, Forward forward, Backward backward) {
  return [op, forward, backward](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool with_grad) {
    const float eps = static_cast<float>(attrs.get_float(op, "eps", 1e-5));
    Tensor x = input_on(op, in, "x", device), gamma = input_on(op, in, "gamma", device),
           beta = input_on(op, in, "beta", device);
    TensorMap results;
    NormForward f = forward(attrs, x, gamma, beta, eps, impl);
    put_result(results, "out", f.out);
    if (with_grad) put_grads(results, backward(attrs, upstream_gradient(in, f.out, device), x, gamma, f, impl));
    return results;
  };
}

using K = InputSpec::Kind;
std::vector<InputSpec> affine_inputs(const Shape& x, std::int64_t channels) {
  return {{"x", x, K::Normal}, {"gamma", {channels}, K::Normal}, {"beta", {channels}, K::Normal}};
}
std::vector<InputSpec> with_running_stats(std::vector<InputSpec> inputs, std::int64_t channels) {
  inputs.push_back({"running_mean", {channels}, K::Normal});
  inputs.push_back({"running_var", {channels}, K::Positive});
  return inputs;
}
}  // namespace

OpDef batch_norm_op_def() {
  OpDef def = norm_op_def("batch_norm", batch_norm_variants().implementations());
  // training=1 with running_mean/running_var given also returns their updated
  // values as out_running_mean/out_running_var.
  def.run = [](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const char* op = "batch_norm";
    const bool training = attrs.get_int(op, "training", 1) != 0;
    const float eps = static_cast<float>(attrs.get_float(op, "eps", 1e-5));
    const float momentum = static_cast<float>(attrs.get_float(op, "momentum", 0.1));
    Tensor x = input_on(op, in, "x", device), gamma = input_on(op, in, "gamma", device),
           beta = input_on(op, in, "beta", device);
    Tensor running_mean, running_var;
    const bool has_running = !training || in.count("running_mean") != 0;
    if (has_running) {
      running_mean = input_on(op, in, "running_mean", device);
      running_var = input_on(op, in, "running_var", device);
    }
    TensorMap results;
    NormForward f = batch_norm_forward(x, gamma, beta, has_running ? &running_mean : nullptr,
                                       has_running ? &running_var : nullptr, training, momentum, eps, impl);
    put_result(results, "out", f.out);
    if (training && has_running) {
      put_result(results, "out_running_mean", running_mean);
      put_result(results, "out_running_var", running_var);
    }
    if (backward) put_grads(results, batch_norm_backward(upstream_gradient(in, f.out, device), x, gamma, f, training, impl));
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) {
    const char* op = "batch_norm";
    const bool training = attrs.get_int(op, "training", 1) != 0;
    const float eps = static_cast<float>(attrs.get_float(op, "eps", 1e-5));
    const float momentum = static_cast<float>(attrs.get_float(op, "momentum", 0.1));
    const Tensor &x = ws.at("x"), &gamma = ws.at("gamma"), &beta = ws.at("beta");
    // Running statistics, when the case has them, are updated in place on every call.
    Tensor* running_mean = ws.count("running_mean") ? &ws.at("running_mean") : nullptr;
    Tensor* running_var = ws.count("running_var") ? &ws.at("running_var") : nullptr;
    return timed_norm(
        ws, backward,
        [&x, &gamma, &beta, running_mean, running_var, training, momentum, eps, impl] {
          return batch_norm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps, impl);
        },
        [&x, &gamma, training, impl](const Tensor& dout, const NormForward& saved) {
          batch_norm_backward(dout, x, gamma, saved, training, impl);
        });
  };
  def.cases = {
      {"small_2d", affine_inputs({8, 5}, 5), {{"training", "1"}, {"eps", "1e-05"}}},
      {"odd_4d", affine_inputs({3, 5, 7, 9}, 5), {{"training", "1"}, {"eps", "1e-05"}}},
      {"running_2d", with_running_stats(affine_inputs({17, 33}, 33), 33), {{"training", "1"}, {"eps", "1e-05"}}},
      {"running_4d", with_running_stats(affine_inputs({4, 6, 5, 3}, 6), 6),
       {{"training", "1"}, {"eps", "1e-05"}, {"momentum", "0.2"}}},
      {"eval_2d", with_running_stats(affine_inputs({9, 7}, 7), 7), {{"training", "0"}, {"eps", "1e-05"}}},
      {"eval_4d", with_running_stats(affine_inputs({4, 3, 5, 5}, 3), 3), {{"training", "0"}, {"eps", "1e-05"}}},
      {"cs231n_fc", affine_inputs({200, 100}, 100), {{"training", "1"}, {"eps", "1e-05"}}},
      {"cs231n_conv", affine_inputs({50, 32, 16, 16}, 32), {{"training", "1"}, {"eps", "1e-05"}}},
      {"wide_2d", affine_inputs({4096, 1024}, 1024), {{"training", "1"}, {"eps", "1e-05"}}, true},
      {"resnet_64x64x56x56", with_running_stats(affine_inputs({64, 64, 56, 56}, 64), 64),
       {{"training", "1"}, {"eps", "1e-05"}}, true},
  };
  return def;
}

OpDef layer_norm_op_def() {
  OpDef def = norm_op_def("layer_norm", group_norm_variants().implementations());
  def.run = affine_norm_runner(
      "layer_norm",
      [](const Attrs&, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps, Impl impl) {
        return layer_norm_forward(x, gamma, beta, eps, impl);
      },
      [](const Attrs&, const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& f, Impl impl) {
        return layer_norm_backward(dout, x, gamma, f, impl);
      });
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) {
    const float eps = static_cast<float>(attrs.get_float("layer_norm", "eps", 1e-5));
    const Tensor &x = ws.at("x"), &gamma = ws.at("gamma"), &beta = ws.at("beta");
    return timed_norm(
        ws, backward, [&x, &gamma, &beta, eps, impl] { return layer_norm_forward(x, gamma, beta, eps, impl); },
        [&x, &gamma, impl](const Tensor& dout, const NormForward& saved) {
          layer_norm_backward(dout, x, gamma, saved, impl);
        });
  };
  // D <= 1024 takes the warp-per-row CUDA path, larger D the block-per-row one.
  def.cases = {
      {"small", affine_inputs({4, 6}, 6), {{"eps", "1e-05"}}},
      {"batched_3d", affine_inputs({2, 5, 8}, 8), {{"eps", "1e-05"}}},
      {"one_column", affine_inputs({7, 1}, 1), {{"eps", "1e-05"}}},
      {"warp_1024", affine_inputs({33, 1024}, 1024), {{"eps", "1e-05"}}},
      {"block_1029", affine_inputs({5, 1029}, 1029), {{"eps", "1e-05"}}},
      {"cs231n_fc", affine_inputs({200, 100}, 100), {{"eps", "1e-05"}}},
      {"transformer", affine_inputs({8, 64, 256}, 256), {{"eps", "1e-05"}}},
      {"large_4096x4096", affine_inputs({4096, 4096}, 4096), {{"eps", "1e-05"}}, true},
  };
  return def;
}

OpDef group_norm_op_def() {
  OpDef def = norm_op_def("group_norm", group_norm_variants().implementations());
  def.run = affine_norm_runner(
      "group_norm",
      [](const Attrs& attrs, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps, Impl impl) {
        return group_norm_forward(x, gamma, beta, attrs.get_int("group_norm", "groups"), eps, impl);
      },
      [](const Attrs& attrs, const Tensor& dout, const Tensor& x, const Tensor& gamma, const NormForward& f,
         Impl impl) { return group_norm_backward(dout, x, gamma, f, attrs.get_int("group_norm", "groups"), impl); });
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) {
    const char* op = "group_norm";
    const std::int64_t groups = attrs.get_int(op, "groups");
    const float eps = static_cast<float>(attrs.get_float(op, "eps", 1e-5));
    const Tensor &x = ws.at("x"), &gamma = ws.at("gamma"), &beta = ws.at("beta");
    return timed_norm(
        ws, backward,
        [&x, &gamma, &beta, groups, eps, impl] { return group_norm_forward(x, gamma, beta, groups, eps, impl); },
        [&x, &gamma, groups, impl](const Tensor& dout, const NormForward& saved) {
          group_norm_backward(dout, x, gamma, saved, groups, impl);
        });
  };
  def.cases = {
      {"cs231n_2x6x4x5", affine_inputs({2, 6, 4, 5}, 6), {{"groups", "2"}, {"eps", "1e-05"}}},
      {"odd", affine_inputs({3, 10, 7, 5}, 10), {{"groups", "5"}, {"eps", "1e-05"}}},
      {"instance_like", affine_inputs({2, 4, 3, 3}, 4), {{"groups", "4"}, {"eps", "1e-05"}}},
      {"layer_like", affine_inputs({3, 8, 1, 1}, 8), {{"groups", "1"}, {"eps", "1e-05"}}},
      {"block_path", affine_inputs({2, 8, 20, 20}, 8), {{"groups", "2"}, {"eps", "1e-05"}}},
      {"unet_32x256x32x32", affine_inputs({32, 256, 32, 32}, 256), {{"groups", "32"}, {"eps", "1e-05"}}, true},
  };
  return def;
}

}  // namespace cudl
