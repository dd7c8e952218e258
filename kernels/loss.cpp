// Losses: argument checks, label validation, dispatch, and the registry entries
// (is_loss: no upstream gradient), all four built by loss_op_def.
#include "kernels/loss.h"

#include "core/check.h"
#include "kernels/cpu/loss.h"
#include "kernels/loss_math.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/loss.h"
#endif

namespace cudl {

namespace {
void check_loss_args(LossKind kind, const Tensor& x, const Tensor& y) {
  const char* op = loss_name(kind);
  check_float(op, "x", x);
  if (has_labels(kind)) {
    check_ndim(op, "x", x, 2);
    CUDL_CHECK(x.size(0) > 0 && x.size(1) > 0, op, ": expected x [N, C] with N, C > 0, got ", x.str());
    check_dtype(op, "y", y, DType::I64);
    check_shape(op, "y", y, {x.size(0)});
    check_same_device(op, {{"x", &x}, {"y", &y}});
  } else {
    CUDL_CHECK(x.numel() > 0, op, ": expected a non-empty x, got ", x.str());
    check_float(op, "target", y);
    check_shape(op, "target", y, x.shape());
    check_same_device(op, {{"x", &x}, {"target", &y}});
  }
}

[[noreturn]] void throw_bad_label(LossKind kind, std::int64_t row, std::int64_t label, std::int64_t classes) {
  detail::throw_error(loss_name(kind), ": label ", label, " of row ", row, " is outside [0, ", classes,
                      ") (C = ", classes, ")");
}

// Host labels are checked before the kernels run; device labels by the kernels.
void check_host_labels(LossKind kind, const Tensor& y, std::int64_t classes) {
  const std::int64_t* labels = y.data<std::int64_t>();
  for (std::int64_t i = 0; i < y.numel(); ++i)
    if (labels[i] < 0 || labels[i] >= classes) throw_bad_label(kind, i, labels[i], classes);
}

// Device labels are checked by the CUDA kernels and reported at the next sync
// point; host labels were checked before the kernels run.
using LossKernel = void (*)(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx);

#if CUDL_WITH_CUDA
template <auto cuda_kernel>
void with_label_check(LossKind kind, const Tensor& x, const Tensor& y, Tensor& loss, Tensor& dx) {
  const std::int64_t classes = has_labels(kind) ? x.size(1) : 0;
  cuda_kernel(kind, x, y, loss, dx,
              [kind, classes](std::int64_t row, std::int64_t label) { throw_bad_label(kind, row, label, classes); });
}
#endif

const VariantTable<LossKernel>& loss_variants() {
  static const VariantTable<LossKernel> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, cpu::loss_omp},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, cpu::loss_naive},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, with_label_check<cuda::loss_fused>},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, with_label_check<cuda::loss_naive>},
#endif
  }};
  return table;
}

LossResult compute_loss(LossKind kind, const Tensor& x, const Tensor& y, Impl impl) {
  const char* op = loss_name(kind);
  check_loss_args(kind, x, y);
  const Device device = x.device();
  LossResult r{Tensor::empty({1}, DType::F32, device), Tensor::empty(x.shape(), DType::F32, device)};
  const LossKernel loss_kernel = loss_variants().select(op, device, impl);
  if (device.is_cpu() && has_labels(kind)) check_host_labels(kind, y, x.size(1));
  loss_kernel(kind, x, y, r.loss, r.dx);
  return r;
}

OpDef loss_op_def(LossKind kind) {
  OpDef def;
  def.name = loss_name(kind);
  def.implementations = loss_variants().implementations();
  def.is_loss = true;
  const char* target = has_labels(kind) ? "y" : "target";
  def.run = [kind, target](const TensorMap& in, const Attrs&, Device device, Impl impl, bool backward) {
    const char* op = loss_name(kind);
    LossResult r = compute_loss(kind, input_on(op, in, "x", device), input_on(op, in, target, device), impl);
    TensorMap results;
    put_result(results, "out", r.loss);
    if (backward) put_result(results, "dx", r.dx);
    return results;
  };
  def.make_timed = [kind, target](TensorMap& ws, const Attrs&, Impl impl, bool) -> std::function<void()> {
    const Tensor &x = ws.at("x"), &t = ws.at(target);
    return [kind, &x, &t, impl] { compute_loss(kind, x, t, impl); };
  };
  // Forward and gradient together: about four operations per score.
  def.flops = [](const TensorMap& in, const Attrs&) { return 4.0 * static_cast<double>(in.at("x").numel()); };
  def.bytes = [target](const TensorMap& in, const Attrs&) {
    return 8.0 * static_cast<double>(in.at("x").numel()) + static_cast<double>(in.at(target).nbytes());
  };
  using K = InputSpec::Kind;
  if (has_labels(kind)) {
    auto scores = [](std::int64_t n, std::int64_t c) {
      return std::vector<InputSpec>{{"x", {n, c}, K::Normal}, {"y", {n}, K::Labels, c}};
    };
    def.cases = {
        {"odd", scores(7, 3), {}},
        {"classes_32", scores(33, 32), {}},
        {"cifar_batch", scores(100, 10), {}},
        {"imagenet_classes", scores(64, 1000), {}},
        {"vocabulary", scores(300, 1004), {}},
        {"large", scores(1 << 14, 1000), {}, true},
    };
  } else {
    const K target_kind = kind == LossKind::BceWithLogits ? K::Uniform : K::Normal;
    auto pair = [target_kind](Shape shape) {
      return std::vector<InputSpec>{{"x", shape, K::Normal}, {"target", shape, target_kind}};
    };
    def.cases = {
        {"odd", pair({7}), {}},
        {"gan_batch", pair({128}), {}},
        {"matrix", pair({33, 65}), {}},
        {"large", pair({1 << 24}), {}, true},
    };
  }
  return def;
}
}  // namespace

LossResult cross_entropy(const Tensor& x, const Tensor& y, Impl impl) {
  return compute_loss(LossKind::CrossEntropy, x, y, impl);
}
LossResult svm_loss(const Tensor& x, const Tensor& y, Impl impl) { return compute_loss(LossKind::Svm, x, y, impl); }
LossResult bce_with_logits(const Tensor& x, const Tensor& target, Impl impl) {
  return compute_loss(LossKind::BceWithLogits, x, target, impl);
}
LossResult mse_loss(const Tensor& x, const Tensor& target, Impl impl) {
  return compute_loss(LossKind::Mse, x, target, impl);
}

OpDef cross_entropy_op_def() { return loss_op_def(LossKind::CrossEntropy); }
OpDef svm_loss_op_def() { return loss_op_def(LossKind::Svm); }
OpDef bce_with_logits_op_def() { return loss_op_def(LossKind::BceWithLogits); }
OpDef mse_loss_op_def() { return loss_op_def(LossKind::Mse); }

}  // namespace cudl
