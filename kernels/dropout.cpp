// dropout: argument checks, dispatch, and the registry entry. Not a golden op
// (PyTorch's mask comes from its own generator); the registry runs it so the
// agreement tests and benchmarks cover it, with the mask from the `seed` attribute.
#include "kernels/dropout.h"

#include <memory>

#include "core/check.h"
#include "kernels/cpu/dropout.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/dropout.h"
#endif

namespace cudl {

namespace {
struct DropoutKernels {
  void (*forward)(const Tensor& x, float p, std::uint64_t seed, std::uint64_t base_block, Tensor& out, Tensor& mask);
  void (*backward)(const Tensor& dout, const Tensor& mask, Tensor& dx);
};

// Every variant draws the mask from the same Philox blocks, so they agree bit for bit.
const VariantTable<DropoutKernels>& dropout_variants() {
  static const VariantTable<DropoutKernels> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast,
       {cpu::dropout_forward_omp,
        [](const Tensor& dout, const Tensor& mask, Tensor& dx) { cpu::dropout_backward(dout, mask, dx, true); }}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive,
       {cpu::dropout_forward_naive,
        [](const Tensor& dout, const Tensor& mask, Tensor& dx) { cpu::dropout_backward(dout, mask, dx, false); }}},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, {cuda::dropout_forward_philox4, cuda::dropout_backward_vec4}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, {cuda::dropout_forward_naive, cuda::dropout_backward_naive}},
#endif
  }};
  return table;
}
}  // namespace

DropoutResult dropout_forward(const Tensor& x, float p, Generator& gen, bool training, Impl impl) {
  check_float("dropout", "x", x);
  CUDL_CHECK(p >= 0.0f && p < 1.0f, "dropout: expected the drop probability p in [0, 1), got ", p);
  if (!training) return {x.view(), Tensor()};  // the identity, as F.dropout(training=False): x itself
  const Device device = x.device();
  DropoutResult r{Tensor::empty(x.shape(), DType::F32, device), Tensor::empty(x.shape(), DType::F32, device)};
  const DropoutKernels& kernels = dropout_variants().select("dropout", device, impl);
  const std::uint64_t base_block = gen.reserve(static_cast<std::uint64_t>(x.numel()));
  kernels.forward(x, p, gen.seed(), base_block, r.out, r.mask);
  return r;
}

Tensor dropout_backward(const Tensor& dout, const Tensor& mask, Impl impl) {
  check_float("dropout", "dout", dout);
  check_float("dropout", "mask", mask);
  check_shape("dropout", "mask", mask, dout.shape());
  check_same_device("dropout", {{"dout", &dout}, {"mask", &mask}});
  Tensor dx = Tensor::empty(dout.shape(), DType::F32, dout.device());
  dropout_variants().select("dropout", dout.device(), impl).backward(dout, mask, dx);
  return dx;
}

OpDef dropout_op_def() {
  OpDef def;
  def.name = "dropout";
  def.implementations = dropout_variants().implementations();
  def.run = [](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const float p = static_cast<float>(attrs.get_float("dropout", "p", 0.5));
    Generator gen(static_cast<std::uint64_t>(attrs.get_int("dropout", "seed", 0)));
    Tensor x = input_on("dropout", in, "x", device);
    DropoutResult r = dropout_forward(x, p, gen, /*training=*/true, impl);
    TensorMap results;
    put_result(results, "out", r.out);
    put_result(results, "out_mask", r.mask);
    if (backward) put_result(results, "dx", dropout_backward(upstream_gradient(in, r.out, device), r.mask, impl));
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const float p = static_cast<float>(attrs.get_float("dropout", "p", 0.5));
    // Each timed call draws a fresh mask from the generator's stream, as training does.
    auto gen = std::make_shared<Generator>(static_cast<std::uint64_t>(attrs.get_int("dropout", "seed", 0)));
    const Tensor& x = ws.at("x");
    if (!backward) return [&x, p, gen, impl] { dropout_forward(x, p, *gen, /*training=*/true, impl); };
    DropoutResult r = dropout_forward(x, p, *gen, /*training=*/true, impl);
    const Tensor& dout = timed_upstream_gradient(ws, r.out);
    const Tensor& mask = ws.insert_or_assign("mask", std::move(r.mask)).first->second;
    return [&dout, &mask, impl] { dropout_backward(dout, mask, impl); };
  };
  def.flops = [](const TensorMap& in, const Attrs&) { return static_cast<double>(in.at("x").numel()); };
  // Read x, write out and mask (backward: read dout and mask, write dx).
  def.bytes = [](const TensorMap& in, const Attrs&) { return 12.0 * static_cast<double>(in.at("x").numel()); };
  def.backward_flops = def.flops;
  def.backward_bytes = def.bytes;
  using K = InputSpec::Kind;
  const Attrs half{{"p", "0.5"}, {"seed", "7"}}, light{{"p", "0.1"}, {"seed", "8"}};
  def.cases = {
      {"odd", {{"x", {7, 3}, K::Normal}}, half},
      {"not_multiple_of_4", {{"x", {1, 4099}, K::Normal}}, light},
      {"mlp_hidden", {{"x", {128, 100}, K::Normal}}, half},
      {"vit_tokens", {{"x", {64, 17, 128}, K::Normal}}, light},
      {"large", {{"x", {16, 1 << 20}, K::Normal}}, half, true},
  };
  return def;
}

}  // namespace cudl
