// max_pool2d: argument checks, dispatch and the registry entry.
#include "kernels/max_pool2d.h"

#include "core/check.h"
#include "kernels/cpu/max_pool2d.h"
#include "kernels/pool2d_geometry.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/max_pool2d.h"
#endif

namespace cudl {

namespace {

struct PoolPieces {
  void (*forward)(const Tensor& x, const Pool2dParams& p, Tensor& out);
  void (*backward)(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Tensor& dx);
};

const VariantTable<PoolPieces>& max_pool2d_variants() {
  static const VariantTable<PoolPieces> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, {cpu::max_pool2d_forward_planes, cpu::max_pool2d_backward_planes}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::max_pool2d_forward_naive, cpu::max_pool2d_backward_naive}},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast,
       {cuda::max_pool2d_forward_gather, cuda::max_pool2d_backward_gather}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive,
       {cuda::max_pool2d_forward_naive, cuda::max_pool2d_backward_naive}},
#if CUDL_WITH_CUDNN
      // No cuDNN backward: see kernels/cuda/max_pool2d.h.
      {"cudnn", DeviceType::CUDA, VariantKind::Vendor, {cuda::max_pool2d_forward_cudnn, cuda::max_pool2d_backward_gather}},
#endif
#endif
  }};
  return table;
}

void check_pool_args(const Tensor& x, const Pool2dParams& p) {
  check_ndim("max_pool2d", "x", x, 4);
  check_float("max_pool2d", "x", x);
  CUDL_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1 && p.stride >= 1, "max_pool2d: expected kernel and stride >= 1, got ",
             p.kernel_h, "x", p.kernel_w, " stride ", p.stride);
  CUDL_CHECK(p.kernel_h <= x.size(2) && p.kernel_w <= x.size(3), "max_pool2d: window ", p.kernel_h, "x", p.kernel_w,
             " is larger than the input ", x.str());
}

Shape pool_out_shape(const Tensor& x, const Pool2dParams& p) {
  const Pool2dGeometry g = pool2d_geometry(x.shape(), p);
  return {x.size(0), x.size(1), g.oh, g.ow};
}

}  // namespace

Tensor max_pool2d_forward(const Tensor& x, const Pool2dParams& p, Impl impl) {
  check_pool_args(x, p);
  const PoolPieces& k = max_pool2d_variants().select("max_pool2d", x.device(), impl);
  Tensor out = Tensor::empty(pool_out_shape(x, p), DType::F32, x.device());
  k.forward(x, p, out);
  return out;
}

Tensor max_pool2d_backward(const Tensor& dout, const Tensor& x, const Pool2dParams& p, Impl impl) {
  check_pool_args(x, p);
  check_float("max_pool2d", "dout", dout);
  CUDL_CHECK(dout.shape() == pool_out_shape(x, p), "max_pool2d: expected dout of shape ",
             shape_str(pool_out_shape(x, p)), ", got ", dout.str());
  check_same_device("max_pool2d", {{"x", &x}, {"dout", &dout}});
  const PoolPieces& k = max_pool2d_variants().select("max_pool2d", x.device(), impl);
  Tensor dx = Tensor::empty(x.shape(), DType::F32, x.device());
  k.backward(dout, x, p, dx);
  return dx;
}

OpDef max_pool2d_op_def() {
  OpDef def;
  def.name = "max_pool2d";
  def.implementations = max_pool2d_variants().implementations();
  auto params = [](const Attrs& attrs) {
    Pool2dParams p;
    p.kernel_h = attrs.get_int("max_pool2d", "kernel_h");
    p.kernel_w = attrs.get_int("max_pool2d", "kernel_w");
    p.stride = attrs.get_int("max_pool2d", "stride");
    return p;
  };
  def.run = [params](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const Pool2dParams p = params(attrs);
    Tensor x = input_on("max_pool2d", in, "x", device);
    TensorMap results;
    Tensor out = max_pool2d_forward(x, p, impl);
    put_result(results, "out", out);
    if (backward) put_result(results, "dx", max_pool2d_backward(upstream_gradient(in, out, device), x, p, impl));
    return results;
  };
  def.make_timed = [params](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const Pool2dParams p = params(attrs);
    const Tensor& x = ws.at("x");
    if (!backward) return [&x, p, impl] { max_pool2d_forward(x, p, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, max_pool2d_forward(x, p, impl));
    return [&dout, &x, p, impl] { max_pool2d_backward(dout, x, p, impl); };
  };
  // One comparison per window element (backward: the same search again, then one add).
  def.flops = [params](const TensorMap& in, const Attrs& attrs) {
    const Pool2dParams p = params(attrs);
    const Pool2dGeometry g = pool2d_geometry(in.at("x").shape(), p);
    return double(g.planes) * g.oh * g.ow * g.kh * g.kw;
  };
  def.bytes = [params](const TensorMap& in, const Attrs& attrs) {
    const Pool2dGeometry g = pool2d_geometry(in.at("x").shape(), params(attrs));
    return 4.0 * g.planes * (g.h * g.w + g.oh * g.ow);
  };
  def.backward_flops = def.flops;
  // Reads x and dout, writes dx.
  def.backward_bytes = [params](const TensorMap& in, const Attrs& attrs) {
    const Pool2dGeometry g = pool2d_geometry(in.at("x").shape(), params(attrs));
    return 4.0 * g.planes * (2.0 * g.h * g.w + g.oh * g.ow);
  };
  using K = InputSpec::Kind;
  auto pool_case = [](std::string label, Shape x, std::int64_t kh, std::int64_t kw, std::int64_t stride,
                      bool large = false) {
    return OpCase{std::move(label),
                  {{"x", std::move(x), K::Normal}},
                  {{"kernel_h", std::to_string(kh)}, {"kernel_w", std::to_string(kw)}, {"stride", std::to_string(stride)}},
                  large};
  };
  def.cases = {
      pool_case("small_2x2_s2", {2, 3, 8, 8}, 2, 2, 2),
      pool_case("odd_drops_edge", {2, 3, 7, 9}, 2, 2, 2),
      pool_case("overlap_3x2_s1_nonsquare", {2, 2, 6, 5}, 3, 2, 1),
      pool_case("overlap_3x3_s2", {3, 2, 9, 7}, 3, 3, 2),
      pool_case("gaps_2x2_s3", {1, 2, 8, 7}, 2, 2, 3),
      pool_case("tiling_3x3_s3_edges", {2, 3, 10, 11}, 3, 3, 3),
      pool_case("cs231n", {100, 3, 32, 32}, 2, 2, 2),
      pool_case("c64_112x112", {64, 64, 112, 112}, 2, 2, 2, true),
      pool_case("c64_56x56_overlap", {64, 64, 56, 56}, 3, 3, 2, true),
  };
  return def;
}

}  // namespace cudl
