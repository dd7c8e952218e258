// upsample_nearest2d: argument checks, dispatch, and the registry entry.
#include "kernels/upsample.h"

#include "core/check.h"
#include "kernels/cpu/upsample.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/upsample.h"
#endif

namespace cudl {

namespace {
constexpr const char* kOp = "upsample_nearest2d";
// Scales beyond this make no sense for nearest upsampling and would overflow the
// CUDA kernels' int loop counters long before.
constexpr std::int64_t kMaxScale = 1 << 16;

void check_scale(std::int64_t scale) {
  CUDL_CHECK(scale >= 1 && scale <= kMaxScale, kOp, ": expected an integer scale in [1, ", kMaxScale, "], got ", scale);
}

struct UpsampleKernels {
  void (*forward)(const Tensor& x, std::int64_t scale, Tensor& out);
  void (*backward)(const Tensor& dout, std::int64_t scale, Tensor& dx);
};

const VariantTable<UpsampleKernels>& upsample_nearest2d_variants() {
  static const VariantTable<UpsampleKernels> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, {cpu::upsample_nearest2d_forward_omp, cpu::upsample_nearest2d_backward_omp}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::upsample_nearest2d_forward_naive, cpu::upsample_nearest2d_backward_naive}},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, {cuda::upsample_nearest2d_forward_block, cuda::upsample_nearest2d_backward_block}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, {cuda::upsample_nearest2d_forward_naive, cuda::upsample_nearest2d_backward_naive}},
#endif
  }};
  return table;
}
}  // namespace

Tensor upsample_nearest2d_forward(const Tensor& x, std::int64_t scale, Impl impl) {
  check_float(kOp, "x", x);
  check_ndim(kOp, "x", x, 4);
  check_scale(scale);
  Tensor out = Tensor::empty({x.size(0), x.size(1), x.size(2) * scale, x.size(3) * scale}, DType::F32, x.device());
  upsample_nearest2d_variants().select(kOp, x.device(), impl).forward(x, scale, out);
  return out;
}

Tensor upsample_nearest2d_backward(const Tensor& dout, std::int64_t scale, Impl impl) {
  check_float(kOp, "dout", dout);
  check_ndim(kOp, "dout", dout, 4);
  check_scale(scale);
  CUDL_CHECK(dout.size(2) % scale == 0 && dout.size(3) % scale == 0, kOp, ": expected dout's height and width to be ",
             "multiples of scale ", scale, ", got ", dout.str());
  Tensor dx = Tensor::empty({dout.size(0), dout.size(1), dout.size(2) / scale, dout.size(3) / scale}, DType::F32,
                            dout.device());
  upsample_nearest2d_variants().select(kOp, dout.device(), impl).backward(dout, scale, dx);
  return dx;
}

OpDef upsample_nearest2d_op_def() {
  OpDef def;
  def.name = kOp;
  def.implementations = upsample_nearest2d_variants().implementations();
  def.run = [](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const std::int64_t scale = attrs.get_int(kOp, "scale");
    Tensor x = input_on(kOp, in, "x", device);
    TensorMap results;
    Tensor out = upsample_nearest2d_forward(x, scale, impl);
    put_result(results, "out", out);
    if (backward)
      put_result(results, "dx", upsample_nearest2d_backward(upstream_gradient(in, out, device), scale, impl));
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const std::int64_t scale = attrs.get_int(kOp, "scale");
    const Tensor& x = ws.at("x");
    if (!backward) return [&x, scale, impl] { upsample_nearest2d_forward(x, scale, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, upsample_nearest2d_forward(x, scale, impl));
    return [&dout, scale, impl] { upsample_nearest2d_backward(dout, scale, impl); };
  };
  def.flops = [](const TensorMap&, const Attrs&) { return 0.0; };
  // Read x once, write scale^2 outputs per element (backward: read them, write one).
  def.bytes = [](const TensorMap& in, const Attrs& attrs) {
    const double s = static_cast<double>(attrs.get_int(kOp, "scale"));
    return 4.0 * static_cast<double>(in.at("x").numel()) * (1.0 + s * s);
  };
  def.backward_bytes = def.bytes;
  using K = InputSpec::Kind;
  def.cases = {
      {"odd", {{"x", {1, 3, 5, 7}, K::Normal}}, {{"scale", "2"}}},
      {"scale_3", {{"x", {2, 2, 3, 4}, K::Normal}}, {{"scale", "3"}}},
      {"scale_1", {{"x", {2, 3, 4, 5}, K::Normal}}, {{"scale", "1"}}},
      {"decoder_feature_map", {{"x", {16, 64, 16, 16}, K::Normal}}, {{"scale", "2"}}},
      {"large", {{"x", {32, 64, 64, 64}, K::Normal}}, {{"scale", "2"}}, true},
  };
  return def;
}

}  // namespace cudl
