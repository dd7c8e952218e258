// linear: argument checks, dispatch to a backend, and the registry entry.
#include "kernels/linear.h"

#include <array>

#include "core/check.h"
#include "kernels/cpu/linear.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/linear.h"
#endif

namespace cudl {

namespace {
void check_linear_args(const Tensor& x, const Tensor& w) {
  check_float("linear", "x", x);
  check_ndim("linear", "w", w, 2);
  check_float("linear", "w", w);
  // Every path divides x.numel() by D, and cuBLAS rejects leading dimensions of 0.
  CUDL_CHECK(w.size(0) > 0 && w.size(1) > 0, "linear: expected w [M, D] with M, D > 0, got ", w.str());
  CUDL_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: x's last dim must equal w's in-features ",
             w.size(1), ", got x ", shape_str(x.shape()), " and w ", shape_str(w.shape()));
}

struct LinearKernels {
  void (*forward)(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& out);
  void (*backward)(const Tensor& dout, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw, Tensor& db);
};

// On CUDA, cuBLAS is the fastest and so Auto; cuda_fast is our own tiled GEMM.
const VariantTable<LinearKernels>& linear_variants() {
  static const VariantTable<LinearKernels> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, {cpu::linear_forward_blas, cpu::linear_backward_blas}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::linear_forward_naive, cpu::linear_backward_naive}},
#if CUDL_WITH_CUDA
      {"cublas", DeviceType::CUDA, VariantKind::Vendor, {cuda::linear_forward_cublas, cuda::linear_backward_cublas}},
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, {cuda::linear_forward_tiled, cuda::linear_backward_tiled}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, {cuda::linear_forward_naive, cuda::linear_backward_naive}},
#endif
  }};
  return table;
}

Shape with_last_dim(const Shape& shape, std::int64_t last) {
  Shape s = shape;
  s.back() = last;
  return s;
}
}  // namespace

Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Impl impl) {
  check_linear_args(x, w);
  check_shape("linear", "b", b, {w.size(0)});
  check_float("linear", "b", b);
  check_same_device("linear", {{"x", &x}, {"w", &w}, {"b", &b}});
  Tensor out = Tensor::empty(with_last_dim(x.shape(), w.size(0)), DType::F32, x.device());
  linear_variants().select("linear", x.device(), impl).forward(x, w, b, out);
  return out;
}

LinearGrads linear_backward(const Tensor& dout, const Tensor& x, const Tensor& w, Impl impl) {
  check_linear_args(x, w);
  check_float("linear", "dout", dout);
  CUDL_CHECK(dout.shape() == with_last_dim(x.shape(), w.size(0)), "linear: expected dout of shape ",
             shape_str(with_last_dim(x.shape(), w.size(0))), ", got ", dout.str());
  check_same_device("linear", {{"x", &x}, {"w", &w}, {"dout", &dout}});
  const Device device = x.device();
  LinearGrads g{Tensor::empty(x.shape(), DType::F32, device), Tensor::empty(w.shape(), DType::F32, device),
                Tensor::empty({w.size(0)}, DType::F32, device)};
  linear_variants().select("linear", device, impl).backward(dout, x, w, g.dx, g.dw, g.db);
  return g;
}

OpDef linear_op_def() {
  OpDef def;
  def.name = "linear";
  def.implementations = linear_variants().implementations();
  def.run = [](const TensorMap& in, const Attrs&, Device device, Impl impl, bool backward) {
    Tensor x = input_on("linear", in, "x", device), w = input_on("linear", in, "w", device),
           b = input_on("linear", in, "b", device);
    TensorMap results;
    Tensor out = linear_forward(x, w, b, impl);
    put_result(results, "out", out);
    if (backward) {
      LinearGrads g = linear_backward(upstream_gradient(in, out, device), x, w, impl);
      put_result(results, "dx", g.dx);
      put_result(results, "dw", g.dw);
      put_result(results, "db", g.db);
    }
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs&, Impl impl, bool backward) -> std::function<void()> {
    const Tensor &x = ws.at("x"), &w = ws.at("w"), &b = ws.at("b");
    if (!backward) return [&x, &w, &b, impl] { linear_forward(x, w, b, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, linear_forward(x, w, b, impl));
    return [&dout, &x, &w, impl] { linear_backward(dout, x, w, impl); };
  };
  auto dims = [](const TensorMap& in) {
    const Tensor& w = in.at("w");
    return std::array<double, 3>{double(in.at("x").numel() / w.size(1)), double(w.size(1)), double(w.size(0))};
  };
  def.flops = [dims](const TensorMap& in, const Attrs&) {
    const auto [n, d, m] = dims(in);
    return 2.0 * n * d * m;
  };
  def.bytes = [dims](const TensorMap& in, const Attrs&) {
    const auto [n, d, m] = dims(in);
    return 4.0 * (n * d + m * d + m + n * m);
  };
  def.backward_flops = [dims](const TensorMap& in, const Attrs&) {  // dx and dw GEMMs, db sums
    const auto [n, d, m] = dims(in);
    return 4.0 * n * d * m + n * m;
  };
  def.backward_bytes = [dims](const TensorMap& in, const Attrs&) {  // reads dout, x, w; writes dx, dw, db
    const auto [n, d, m] = dims(in);
    return 4.0 * (n * m + 2.0 * (n * d + m * d) + m);
  };
  using K = InputSpec::Kind;
  def.cases = {
      {"small", {{"x", {4, 5}, K::Normal}, {"w", {3, 5}, K::Normal}, {"b", {3}, K::Normal}}, {}},
      {"batched_3d", {{"x", {2, 7, 33}, K::Normal}, {"w", {17, 33}, K::Normal}, {"b", {17}, K::Normal}}, {}},
      {"mlp_layer", {{"x", {128, 784}, K::Normal}, {"w", {100, 784}, K::Normal}, {"b", {100}, K::Normal}}, {}},
      {"gemm_1024", {{"x", {1024, 1024}, K::Normal}, {"w", {1024, 1024}, K::Normal}, {"b", {1024}, K::Normal}}, {}, true},
      {"gemm_4096", {{"x", {4096, 4096}, K::Normal}, {"w", {4096, 4096}, K::Normal}, {"b", {4096}, K::Normal}}, {}, true},
  };
  return def;
}

}  // namespace cudl
