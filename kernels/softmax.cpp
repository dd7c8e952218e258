// softmax: argument checks, dispatch, and the registry entry (with cuDNN as the
// vendor implementation the benchmarks compare against).
#include "kernels/softmax.h"

#include <climits>

#include "core/check.h"
#include "kernels/cpu/softmax.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/softmax.h"
#endif

namespace cudl {

namespace {
void check_softmax_input(const char* name, const Tensor& t) {
  check_float("softmax", name, t);
  CUDL_CHECK(t.dim() >= 1, "softmax: expected ", name, " with at least one dimension, got ", t.str());
}

#if CUDL_WITH_CUDNN
// cuDNN describes tensors with int dimensions and limits a tensor to 2^31-1
// elements, so a bound on rows and columns alone is not enough.
void check_cudnn_dims(const Tensor& t) {
  CUDL_CHECK(t.numel() <= INT_MAX, "softmax: cuDNN takes at most ", INT_MAX, " elements, got ", t.str());
}
#endif

struct SoftmaxKernels {
  void (*forward)(const Tensor& x, Tensor& out);
  void (*backward)(const Tensor& dout, const Tensor& out, Tensor& dx);
};

const VariantTable<SoftmaxKernels>& softmax_variants() {
  static const VariantTable<SoftmaxKernels> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, {cpu::softmax_forward_omp, cpu::softmax_backward_omp}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::softmax_forward_naive, cpu::softmax_backward_naive}},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, {cuda::softmax_forward_warp, cuda::softmax_backward_warp}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, {cuda::softmax_forward_naive, cuda::softmax_backward_naive}},
#if CUDL_WITH_CUDNN
      {"cudnn", DeviceType::CUDA, VariantKind::Vendor,
       {[](const Tensor& x, Tensor& out) {
          check_cudnn_dims(x);
          cuda::softmax_forward_cudnn(x, out);
        },
        [](const Tensor& dout, const Tensor& out, Tensor& dx) {
          check_cudnn_dims(out);
          cuda::softmax_backward_cudnn(dout, out, dx);
        }}},
#endif
#endif
  }};
  return table;
}
}  // namespace

Tensor softmax_forward(const Tensor& x, Impl impl) {
  check_softmax_input("x", x);
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  softmax_variants().select("softmax", x.device(), impl).forward(x, out);
  return out;
}

Tensor softmax_backward(const Tensor& dout, const Tensor& out, Impl impl) {
  check_softmax_input("out", out);
  check_float("softmax", "dout", dout);
  check_shape("softmax", "dout", dout, out.shape());
  check_same_device("softmax", {{"out", &out}, {"dout", &dout}});
  Tensor dx = Tensor::empty(out.shape(), DType::F32, out.device());
  softmax_variants().select("softmax", out.device(), impl).backward(dout, out, dx);
  return dx;
}

OpDef softmax_op_def() {
  OpDef def;
  def.name = "softmax";
  def.implementations = softmax_variants().implementations();
  def.run = [](const TensorMap& in, const Attrs&, Device device, Impl impl, bool backward) {
    Tensor x = input_on("softmax", in, "x", device);
    TensorMap results;
    Tensor out = softmax_forward(x, impl);
    put_result(results, "out", out);
    if (backward) put_result(results, "dx", softmax_backward(upstream_gradient(in, out, device), out, impl));
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs&, Impl impl, bool backward) -> std::function<void()> {
    const Tensor& x = ws.at("x");
    if (!backward) return [&x, impl] { softmax_forward(x, impl); };
    const Tensor& out = ws.insert_or_assign("out", softmax_forward(x, impl)).first->second;
    const Tensor& dout = timed_upstream_gradient(ws, out);
    return [&dout, &out, impl] { softmax_backward(dout, out, impl); };
  };
  // Per element: subtract, exp, add, scale (backward: multiply, add, subtract, multiply).
  def.flops = [](const TensorMap& in, const Attrs&) { return 4.0 * static_cast<double>(in.at("x").numel()); };
  def.bytes = [](const TensorMap& in, const Attrs&) { return 8.0 * static_cast<double>(in.at("x").numel()); };
  def.backward_flops = def.flops;  // reads dout and out, writes dx
  def.backward_bytes = [](const TensorMap& in, const Attrs&) { return 12.0 * static_cast<double>(in.at("x").numel()); };
  using K = InputSpec::Kind;
  // Column counts cover every CUDA path: shorter than a warp, exactly a warp,
  // the warp path's limit, and block-per-row rows; row counts that do not fill a block.
  def.cases = {
      {"row_of_7", {{"x", {5, 7}, K::Normal}}, {}},
      {"cols_32", {{"x", {13, 32}, K::Normal}}, {}},
      {"cols_1000", {{"x", {9, 1000}, K::Normal}}, {}},
      {"cols_1024", {{"x", {3, 1024}, K::Normal}}, {}},
      {"cols_1025", {{"x", {3, 1025}, K::Normal}}, {}},
      {"cols_5000", {{"x", {4, 5000}, K::Normal}}, {}},
      {"classifier_scores", {{"x", {128, 10}, K::Normal}}, {}},
      {"attention_scores", {{"x", {2, 4, 16, 16}, K::Normal}}, {}},
      {"large_short_rows", {{"x", {1 << 18, 64}, K::Normal}}, {}, true},
      {"large_long_rows", {{"x", {1024, 16384}, K::Normal}}, {}, true},
  };
  return def;
}

}  // namespace cudl
