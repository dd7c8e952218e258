// temporal_softmax_loss: argument and label checks, dispatch, and the registry
// entry (a loss: no upstream gradient; attribute normalize = batch | tokens).
#include "kernels/temporal_softmax_loss.h"

#include <string>

#include "core/check.h"
#include "kernels/cpu/temporal_softmax_loss.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/temporal_softmax_loss.h"
#endif

namespace cudl {

namespace {
constexpr const char* kOp = "temporal_softmax_loss";

[[noreturn]] void throw_bad_label(std::int64_t step, std::int64_t steps_per_row, std::int64_t label,
                                  std::int64_t classes) {
  detail::throw_error(kOp, ": label ", label, " at n = ", step / steps_per_row, ", t = ", step % steps_per_row,
                      " is outside [0, ", classes, ") (V = ", classes, ")");
}

TemporalLossNormalize normalize_from(const Attrs& attrs) {
  if (!attrs.has("normalize")) return TemporalLossNormalize::Batch;
  const std::string& value = attrs.values().at("normalize");
  CUDL_CHECK(value == "batch" || value == "tokens", kOp, ": attribute 'normalize' is 'batch' or 'tokens', got '",
             value, "'");
  return value == "batch" ? TemporalLossNormalize::Batch : TemporalLossNormalize::Tokens;
}

// Returns the first row whose device label is out of range, or -1 (host labels
// were checked before the CPU kernels run).
using TemporalLossKernel = std::int64_t (*)(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor,
                                            Tensor& loss, Tensor& dx);

template <auto cpu_kernel>
std::int64_t checked_on_host(const Tensor& x, const Tensor& y, const Tensor& mask, double divisor, Tensor& loss,
                             Tensor& dx) {
  cpu_kernel(x, y, mask, divisor, loss, dx);
  return -1;
}

const VariantTable<TemporalLossKernel>& temporal_softmax_loss_variants() {
  static const VariantTable<TemporalLossKernel> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, checked_on_host<cpu::temporal_softmax_loss_omp>},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, checked_on_host<cpu::temporal_softmax_loss_naive>},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, cuda::temporal_softmax_loss_warp},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, cuda::temporal_softmax_loss_naive},
#endif
  }};
  return table;
}
}  // namespace

LossResult temporal_softmax_loss(const Tensor& x, const Tensor& y, const Tensor& mask, TemporalLossNormalize normalize,
                                 Impl impl) {
  check_float(kOp, "x", x);
  check_ndim(kOp, "x", x, 3);
  CUDL_CHECK(x.numel() > 0, kOp, ": expected x [N, T, V] with N, T, V > 0, got ", x.str());
  const std::int64_t n = x.size(0), t = x.size(1), classes = x.size(2);
  check_dtype(kOp, "y", y, DType::I64);
  check_shape(kOp, "y", y, {n, t});
  check_float(kOp, "mask", mask);
  check_shape(kOp, "mask", mask, {n, t});
  check_same_device(kOp, {{"x", &x}, {"y", &y}, {"mask", &mask}});
  const Device device = x.device();
  const double divisor = static_cast<double>(normalize == TemporalLossNormalize::Batch ? n : n * t);
  LossResult r{Tensor::empty({1}, DType::F32, device), Tensor::empty(x.shape(), DType::F32, device)};
  const TemporalLossKernel loss_kernel = temporal_softmax_loss_variants().select(kOp, device, impl);
  if (device.is_cpu()) {
    const std::int64_t* labels = y.data<std::int64_t>();
    for (std::int64_t i = 0; i < y.numel(); ++i)
      if (labels[i] < 0 || labels[i] >= classes) throw_bad_label(i, t, labels[i], classes);
  }
  const std::int64_t bad_step = loss_kernel(x, y, mask, divisor, r.loss, r.dx);
  if (bad_step >= 0)
    throw_bad_label(bad_step, t, y.reshape({-1}).slice(bad_step, bad_step + 1).to_vector_i64()[0], classes);
  return r;
}

OpDef temporal_softmax_loss_op_def() {
  OpDef def;
  def.name = kOp;
  def.implementations = temporal_softmax_loss_variants().implementations();
  def.is_loss = true;
  def.run = [](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    LossResult r = temporal_softmax_loss(input_on(kOp, in, "x", device), input_on(kOp, in, "y", device),
                                         input_on(kOp, in, "mask", device), normalize_from(attrs), impl);
    TensorMap results;
    put_result(results, "out", r.loss);
    if (backward) put_result(results, "dx", r.dx);
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool) -> std::function<void()> {
    const Tensor &x = ws.at("x"), &y = ws.at("y"), &mask = ws.at("mask");
    const TemporalLossNormalize normalize = normalize_from(attrs);
    return [&x, &y, &mask, normalize, impl] { temporal_softmax_loss(x, y, mask, normalize, impl); };
  };
  // As cross_entropy: about four operations per score, forward and gradient together.
  def.flops = [](const TensorMap& in, const Attrs&) { return 4.0 * static_cast<double>(in.at("x").numel()); };
  def.bytes = [](const TensorMap& in, const Attrs&) {
    return 8.0 * static_cast<double>(in.at("x").numel()) + static_cast<double>(in.at("y").nbytes()) +
           static_cast<double>(in.at("mask").nbytes());
  };
  using K = InputSpec::Kind;
  auto steps = [](std::int64_t n, std::int64_t t, std::int64_t v) {
    return std::vector<InputSpec>{{"x", {n, t, v}, K::Normal}, {"y", {n, t}, K::Labels, v}, {"mask", {n, t}, K::Mask}};
  };
  // CS231n's captioning: batch 25 (transformer) and 100 (RNN), 16 steps, 1004 words.
  def.cases = {
      {"odd", steps(3, 5, 9), {}},
      {"odd_tokens", steps(3, 5, 9), {{"normalize", "tokens"}}},
      {"cs231n_transformer", steps(25, 16, 1004), {{"normalize", "tokens"}}},
      {"cs231n_rnn", steps(100, 16, 1004), {}},
      {"large", steps(256, 64, 16384), {}, true},
  };
  return def;
}

}  // namespace cudl
