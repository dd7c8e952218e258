// upsample_bilinear2d: argument checks, dispatch, and the registry entry.
#include "kernels/upsample_bilinear.h"

#include "core/check.h"
#include "kernels/cpu/upsample_bilinear.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/upsample_bilinear.h"
#endif

namespace cudl {

namespace {
constexpr const char* kOp = "upsample_bilinear2d";
// As upsample_nearest2d: beyond this a scale is surely a mistake.
constexpr std::int64_t kMaxScale = 1 << 16;

void check_scale(std::int64_t scale) {
  CUDL_CHECK(scale >= 1 && scale <= kMaxScale, kOp, ": expected an integer scale in [1, ", kMaxScale, "], got ", scale);
}

struct UpsampleKernels {
  void (*forward)(const Tensor& x, std::int64_t scale, Tensor& out);
  void (*backward)(const Tensor& dout, std::int64_t scale, Tensor& dx);
};

// The two CUDA variants share the forward kernel and differ in the backward.
const VariantTable<UpsampleKernels>& upsample_bilinear2d_variants() {
  static const VariantTable<UpsampleKernels> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, {cpu::upsample_bilinear2d_forward_omp, cpu::upsample_bilinear2d_backward_separable}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::upsample_bilinear2d_forward_naive, cpu::upsample_bilinear2d_backward_naive}},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, {cuda::upsample_bilinear2d_forward, cuda::upsample_bilinear2d_backward_separable}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, {cuda::upsample_bilinear2d_forward, cuda::upsample_bilinear2d_backward_naive}},
#endif
  }};
  return table;
}
}  // namespace

Tensor upsample_bilinear2d_forward(const Tensor& x, std::int64_t scale, Impl impl) {
  check_float(kOp, "x", x);
  check_ndim(kOp, "x", x, 4);
  check_scale(scale);
  Tensor out = Tensor::empty({x.size(0), x.size(1), x.size(2) * scale, x.size(3) * scale}, DType::F32, x.device());
  upsample_bilinear2d_variants().select(kOp, x.device(), impl).forward(x, scale, out);
  return out;
}

Tensor upsample_bilinear2d_backward(const Tensor& dout, std::int64_t scale, Impl impl) {
  check_float(kOp, "dout", dout);
  check_ndim(kOp, "dout", dout, 4);
  check_scale(scale);
  CUDL_CHECK(dout.size(2) % scale == 0 && dout.size(3) % scale == 0, kOp, ": expected dout's height and width to be ",
             "multiples of scale ", scale, ", got ", dout.str());
  Tensor dx = Tensor::empty({dout.size(0), dout.size(1), dout.size(2) / scale, dout.size(3) / scale}, DType::F32,
                            dout.device());
  upsample_bilinear2d_variants().select(kOp, dout.device(), impl).backward(dout, scale, dx);
  return dx;
}

OpDef upsample_bilinear2d_op_def() {
  OpDef def;
  def.name = kOp;
  def.implementations = upsample_bilinear2d_variants().implementations();
  def.run = [](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const std::int64_t scale = attrs.get_int(kOp, "scale");
    Tensor x = input_on(kOp, in, "x", device);
    TensorMap results;
    Tensor out = upsample_bilinear2d_forward(x, scale, impl);
    put_result(results, "out", out);
    if (backward)
      put_result(results, "dx", upsample_bilinear2d_backward(upstream_gradient(in, out, device), scale, impl));
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const std::int64_t scale = attrs.get_int(kOp, "scale");
    const Tensor& x = ws.at("x");
    if (!backward) return [&x, scale, impl] { upsample_bilinear2d_forward(x, scale, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, upsample_bilinear2d_forward(x, scale, impl));
    return [&dout, scale, impl] { upsample_bilinear2d_backward(dout, scale, impl); };
  };
  // Six FLOPs per output (two two-tap sums along W, one along H);
  // x read once, every output written once (backward: the reverse).
  def.flops = [](const TensorMap& in, const Attrs& attrs) {
    const double s = static_cast<double>(attrs.get_int(kOp, "scale"));
    return 6.0 * static_cast<double>(in.at("x").numel()) * s * s;
  };
  def.bytes = [](const TensorMap& in, const Attrs& attrs) {
    const double s = static_cast<double>(attrs.get_int(kOp, "scale"));
    return 4.0 * static_cast<double>(in.at("x").numel()) * (1.0 + s * s);
  };
  def.backward_flops = def.flops;
  def.backward_bytes = def.bytes;
  using K = InputSpec::Kind;
  def.cases = {
      {"odd", {{"x", {1, 3, 5, 7}, K::Normal}}, {{"scale", "2"}}},
      {"scale_3", {{"x", {2, 2, 3, 4}, K::Normal}}, {{"scale", "3"}}},
      {"scale_1", {{"x", {2, 3, 4, 5}, K::Normal}}, {{"scale", "1"}}},
      {"single_pixel", {{"x", {2, 2, 1, 1}, K::Normal}}, {{"scale", "4"}}},
      {"decoder_feature_map", {{"x", {16, 64, 16, 16}, K::Normal}}, {{"scale", "2"}}},
      {"large", {{"x", {32, 64, 64, 64}, K::Normal}}, {{"scale", "2"}}, true},
  };
  return def;
}

}  // namespace cudl
