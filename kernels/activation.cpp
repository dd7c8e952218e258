// Activations: argument checks, dispatch, and one registry entry per activation
// (relu, leaky_relu, gelu, silu, tanh, sigmoid), all built by activation_op_def.
#include "kernels/activation.h"

#include "core/check.h"
#include "kernels/cpu/activation.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/activation.h"
#endif

namespace cudl {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::ReLU: return "relu";
    case Activation::LeakyReLU: return "leaky_relu";
    case Activation::GELU: return "gelu";
    case Activation::SiLU: return "silu";
    case Activation::Tanh: return "tanh";
    case Activation::Sigmoid: return "sigmoid";
  }
  return "?";
}

namespace {
struct ActivationKernels {
  void (*forward)(Activation a, const Tensor& x, float negative_slope, Tensor& out);
  void (*backward)(Activation a, const Tensor& dout, const Tensor& x, float negative_slope, Tensor& dx);
};

const VariantTable<ActivationKernels>& activation_variants() {
  static const VariantTable<ActivationKernels> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, {cpu::activation_forward_omp, cpu::activation_backward_omp}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::activation_forward_naive, cpu::activation_backward_naive}},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, {cuda::activation_forward_vec4, cuda::activation_backward_vec4}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive,
       {cuda::activation_forward_naive, cuda::activation_backward_naive}},
#endif
  }};
  return table;
}
}  // namespace

Tensor activation_forward(Activation a, const Tensor& x, float negative_slope, Impl impl) {
  const char* op = activation_name(a);
  check_float(op, "x", x);
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  activation_variants().select(op, x.device(), impl).forward(a, x, negative_slope, out);
  return out;
}

Tensor activation_backward(Activation a, const Tensor& dout, const Tensor& x, float negative_slope, Impl impl) {
  const char* op = activation_name(a);
  check_float(op, "x", x);
  check_float(op, "dout", dout);
  check_shape(op, "dout", dout, x.shape());
  check_same_device(op, {{"x", &x}, {"dout", &dout}});
  Tensor dx = Tensor::empty(x.shape(), DType::F32, x.device());
  activation_variants().select(op, x.device(), impl).backward(a, dout, x, negative_slope, dx);
  return dx;
}

OpDef activation_op_def(Activation a) {
  OpDef def;
  def.name = activation_name(a);
  def.implementations = activation_variants().implementations();
  def.run = [a](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const char* op = activation_name(a);
    const float slope =
        a == Activation::LeakyReLU ? static_cast<float>(attrs.get_float(op, "negative_slope", 0.01)) : 0.0f;
    Tensor x = input_on(op, in, "x", device);
    TensorMap results;
    Tensor out = activation_forward(a, x, slope, impl);
    put_result(results, "out", out);
    if (backward) put_result(results, "dx", activation_backward(a, upstream_gradient(in, out, device), x, slope, impl));
    return results;
  };
  def.make_timed = [a](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const float slope = a == Activation::LeakyReLU
                            ? static_cast<float>(attrs.get_float(activation_name(a), "negative_slope", 0.01))
                            : 0.0f;
    const Tensor& x = ws.at("x");
    if (!backward) return [a, &x, slope, impl] { activation_forward(a, x, slope, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, activation_forward(a, x, slope, impl));
    return [a, &dout, &x, slope, impl] { activation_backward(a, dout, x, slope, impl); };
  };
  // One read and one write per element (backward: two reads); the formula's arithmetic is not counted.
  def.flops = [](const TensorMap& in, const Attrs&) { return static_cast<double>(in.at("x").numel()); };
  def.bytes = [](const TensorMap& in, const Attrs&) { return 8.0 * static_cast<double>(in.at("x").numel()); };
  def.backward_flops = def.flops;
  def.backward_bytes = [](const TensorMap& in, const Attrs&) { return 12.0 * static_cast<double>(in.at("x").numel()); };
  using K = InputSpec::Kind;
  const Attrs attrs = a == Activation::LeakyReLU ? Attrs{{"negative_slope", "0.01"}} : Attrs{};
  def.cases = {
      {"vector_odd", {{"x", {37}, K::Normal}}, attrs},
      {"odd_3d", {{"x", {3, 5, 7}, K::Normal}}, attrs},
      {"mlp_hidden", {{"x", {128, 100}, K::Normal}}, attrs},
      {"conv_activations", {{"x", {50, 32, 32, 32}, K::Normal}}, attrs},
      {"large", {{"x", {16, 1 << 20}, K::Normal}}, attrs, true},
  };
  return def;
}

}  // namespace cudl
