// conv2d and conv_transpose2d: argument checks, dispatch and the registry entries.
//
// Both ops are assembled from one set of pieces per implementation: forward,
// backward-data, backward-weight and the bias terms. conv_transpose2d's forward
// is conv2d's backward-data (with w [Cin,Cout,KH,KW] read as a conv2d weight
// [F=Cin, C=Cout, KH, KW]); its dx is conv2d's forward of dout, and its dw is
// conv2d's weight gradient with the roles of input and output swapped.
#include "kernels/conv2d.h"

#include "core/check.h"
#include "kernels/conv2d_geometry.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/conv2d.h"
#endif

namespace cudl {

namespace {

struct ConvPieces {
  void (*forward)(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out);
  void (*backward_data)(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx);
  void (*backward_weight)(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw);
  void (*backward_bias)(const Tensor& dout, Tensor& db);
  void (*add_bias)(Tensor& out, const Tensor& b);
};

// On CUDA, cuDNN is the fastest and so Auto; cuda_fast is our own im2col + GEMM.
const VariantTable<ConvPieces>& conv_variants() {
  static const VariantTable<ConvPieces> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast,
       {cpu::conv2d_forward_im2col, cpu::conv2d_backward_data_im2col, cpu::conv2d_backward_weight_im2col,
        cpu::conv2d_backward_bias, cpu::add_channel_bias}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive,
       {cpu::conv2d_forward_naive, cpu::conv2d_backward_data_naive, cpu::conv2d_backward_weight_naive,
        cpu::conv2d_backward_bias, cpu::add_channel_bias}},
#if CUDL_WITH_CUDA
#if CUDL_WITH_CUDNN
      {"cudnn", DeviceType::CUDA, VariantKind::Vendor,
       {cuda::conv2d_forward_cudnn, cuda::conv2d_backward_data_cudnn, cuda::conv2d_backward_weight_cudnn,
        cuda::conv2d_backward_bias_cudnn, cuda::add_channel_bias_cudnn}},
#endif
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast,
       {cuda::conv2d_forward_im2col, cuda::conv2d_backward_data_im2col, cuda::conv2d_backward_weight_im2col,
        cuda::conv2d_backward_bias, cuda::add_channel_bias}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive,
       {cuda::conv2d_forward_naive, cuda::conv2d_backward_data_naive, cuda::conv2d_backward_weight_naive,
        cuda::conv2d_backward_bias, cuda::add_channel_bias}},
#endif
  }};
  return table;
}

// A zero-sized dimension would reach a division by zero (the CUDA im2col chunking
// divides by the per-image column size) or zero-block launches.
void check_nonempty(const char* op, const Tensor& x, const Tensor& w) {
  CUDL_CHECK(x.numel() > 0 && w.numel() > 0, op, ": expected x and w with no zero-sized dimension, got x ",
             shape_str(x.shape()), ", w ", shape_str(w.shape()));
}

// Checks x [N,C,H,W] against a conv2d weight [F,C/groups,KH,KW] and the params.
void check_conv2d_args(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  check_ndim("conv2d", "x", x, 4);
  check_float("conv2d", "x", x);
  check_ndim("conv2d", "w", w, 4);
  check_float("conv2d", "w", w);
  check_nonempty("conv2d", x, w);
  CUDL_CHECK(p.stride >= 1 && p.pad >= 0 && p.groups >= 1, "conv2d: expected stride >= 1, pad >= 0, groups >= 1, got stride ",
             p.stride, ", pad ", p.pad, ", groups ", p.groups);
  CUDL_CHECK(x.size(1) % p.groups == 0 && w.size(0) % p.groups == 0, "conv2d: groups ", p.groups,
             " must divide the input channels and the filters, got x ", shape_str(x.shape()), ", w ",
             shape_str(w.shape()));
  CUDL_CHECK(x.size(1) / p.groups == w.size(1), "conv2d: x has ", x.size(1), " channels but w expects ",
             w.size(1) * p.groups, " (x ", shape_str(x.shape()), ", w ", shape_str(w.shape()), ", groups ", p.groups, ")");
  CUDL_CHECK(x.size(2) + 2 * p.pad >= w.size(2) && x.size(3) + 2 * p.pad >= w.size(3),
             "conv2d: kernel larger than the padded input (x ", shape_str(x.shape()), ", w ", shape_str(w.shape()),
             ", pad ", p.pad, ")");
}

Shape conv2d_out_shape(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), w.shape(), p);
  return {g.n, g.f, g.oh, g.ow};
}

void check_conv_transpose2d_args(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  check_ndim("conv_transpose2d", "x", x, 4);
  check_float("conv_transpose2d", "x", x);
  check_ndim("conv_transpose2d", "w", w, 4);
  check_float("conv_transpose2d", "w", w);
  check_nonempty("conv_transpose2d", x, w);
  CUDL_CHECK(p.stride >= 1 && p.pad >= 0, "conv_transpose2d: expected stride >= 1 and pad >= 0, got stride ",
             p.stride, ", pad ", p.pad);
  CUDL_CHECK(p.groups == 1, "conv_transpose2d: groups are not supported, got groups ", p.groups);
  CUDL_CHECK(x.size(1) == w.size(0), "conv_transpose2d: x has ", x.size(1), " channels but w expects ", w.size(0),
             " (x ", shape_str(x.shape()), ", w ", shape_str(w.shape()), ")");
  const std::int64_t oh = (x.size(2) - 1) * p.stride - 2 * p.pad + w.size(2);
  const std::int64_t ow = (x.size(3) - 1) * p.stride - 2 * p.pad + w.size(3);
  CUDL_CHECK(oh >= 1 && ow >= 1, "conv_transpose2d: output would be empty (", oh, "x", ow, ") for x ",
             shape_str(x.shape()), ", w ", shape_str(w.shape()), ", stride ", p.stride, ", pad ", p.pad);
}

Shape conv_transpose2d_out_shape(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  return {x.size(0), w.size(1), (x.size(2) - 1) * p.stride - 2 * p.pad + w.size(2),
          (x.size(3) - 1) * p.stride - 2 * p.pad + w.size(3)};
}

void check_bias(const char* op, const Tensor& b, std::int64_t channels) {
  check_float(op, "b", b);
  check_shape(op, "b", b, {channels});
}

void check_dout(const char* op, const Tensor& dout, const Shape& expected) {
  check_float(op, "dout", dout);
  CUDL_CHECK(dout.shape() == expected, op, ": expected dout of shape ", shape_str(expected), ", got ", dout.str());
}

// Uninitialised dx, dw and db (of `channels`, the output channel count) on x's device.
Conv2dGrads empty_grads(const Tensor& x, const Tensor& w, std::int64_t channels) {
  const Device device = x.device();
  return {Tensor::empty(x.shape(), DType::F32, device), Tensor::empty(w.shape(), DType::F32, device),
          Tensor::empty({channels}, DType::F32, device)};
}

}  // namespace

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, Impl impl) {
  check_conv2d_args(x, w, p);
  check_bias("conv2d", b, w.size(0));
  check_same_device("conv2d", {{"x", &x}, {"w", &w}, {"b", &b}});
  const ConvPieces& k = conv_variants().select("conv2d", x.device(), impl);
  Tensor out = Tensor::empty(conv2d_out_shape(x, w, p), DType::F32, x.device());
  k.forward(x, w, &b, p, out);
  return out;
}

Conv2dGrads conv2d_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Conv2dParams& p, Impl impl) {
  check_conv2d_args(x, w, p);
  check_dout("conv2d", dout, conv2d_out_shape(x, w, p));
  check_same_device("conv2d", {{"x", &x}, {"w", &w}, {"dout", &dout}});
  const ConvPieces& k = conv_variants().select("conv2d", x.device(), impl);
  Conv2dGrads g = empty_grads(x, w, w.size(0));
  k.backward_data(dout, w, p, g.dx);
  k.backward_weight(dout, x, p, g.dw);
  k.backward_bias(dout, g.db);
  return g;
}

Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, Impl impl) {
  check_conv_transpose2d_args(x, w, p);
  check_bias("conv_transpose2d", b, w.size(1));
  check_same_device("conv_transpose2d", {{"x", &x}, {"w", &w}, {"b", &b}});
  const ConvPieces& k = conv_variants().select("conv_transpose2d", x.device(), impl);
  Tensor out = Tensor::empty(conv_transpose2d_out_shape(x, w, p), DType::F32, x.device());
  k.backward_data(x, w, p, out);
  k.add_bias(out, b);
  return out;
}

Conv2dGrads conv_transpose2d_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Conv2dParams& p,
                                      Impl impl) {
  check_conv_transpose2d_args(x, w, p);
  check_dout("conv_transpose2d", dout, conv_transpose2d_out_shape(x, w, p));
  check_same_device("conv_transpose2d", {{"x", &x}, {"w", &w}, {"dout", &dout}});
  const ConvPieces& k = conv_variants().select("conv_transpose2d", x.device(), impl);
  Conv2dGrads g = empty_grads(x, w, w.size(1));
  k.forward(dout, w, nullptr, p, g.dx);       // the conv2d that conv_transpose2d is the adjoint of
  k.backward_weight(x, dout, p, g.dw);        // conv2d's dw with input dout and output gradient x
  k.backward_bias(dout, g.db);
  return g;
}

// ---- registry entries ----
namespace {

using K = InputSpec::Kind;

Conv2dParams conv_params(const char* op, const Attrs& attrs) {
  Conv2dParams p;
  p.stride = attrs.get_int(op, "stride");
  p.pad = attrs.get_int(op, "pad");
  p.groups = attrs.get_int(op, "groups", 1);
  return p;
}

// The geometry of a registry conv2d case.
Conv2dGeometry conv2d_case_geometry(const TensorMap& in, const Attrs& attrs) {
  return conv2d_geometry(in.at("x").shape(), in.at("w").shape(), conv_params("conv2d", attrs));
}


// A conv case: x shape, w shape, b length, stride, pad (and groups).
OpCase conv_case(std::string label, Shape x, Shape w, std::int64_t b, std::int64_t stride, std::int64_t pad,
                 std::int64_t groups = 1, bool large = false) {
  Attrs attrs{{"stride", std::to_string(stride)}, {"pad", std::to_string(pad)}};
  if (groups != 1) attrs.set("groups", std::to_string(groups));
  return {std::move(label), {{"x", std::move(x), K::Normal}, {"w", std::move(w), K::Normal}, {"b", {b}, K::Normal}},
          attrs, large};
}

// Runs forward (and backward) of conv2d or conv_transpose2d through the registry's interface.
template <typename Forward, typename Backward>
auto conv_runner(const char* op, Forward forward, Backward backward) {
  return [op, forward, backward](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool with_grad) {
    const Conv2dParams p = conv_params(op, attrs);
    Tensor x = input_on(op, in, "x", device), w = input_on(op, in, "w", device), b = input_on(op, in, "b", device);
    TensorMap results;
    Tensor out = forward(x, w, b, p, impl);
    put_result(results, "out", out);
    if (with_grad) {
      Conv2dGrads g = backward(upstream_gradient(in, out, device), x, w, p, impl);
      put_result(results, "dx", g.dx);
      put_result(results, "dw", g.dw);
      put_result(results, "db", g.db);
    }
    return results;
  };
}

// The benchmarks' make_timed for conv2d or conv_transpose2d.
template <typename Forward, typename Backward>
auto conv_timed(const char* op, Forward forward, Backward backward) {
  return [op, forward, backward](TensorMap& ws, const Attrs& attrs, Impl impl,
                                 bool with_grad) -> std::function<void()> {
    const Conv2dParams p = conv_params(op, attrs);
    const Tensor &x = ws.at("x"), &w = ws.at("w"), &b = ws.at("b");
    if (!with_grad) return [forward, &x, &w, &b, p, impl] { forward(x, w, b, p, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, forward(x, w, b, p, impl));
    return [backward, &dout, &x, &w, p, impl] { backward(dout, x, w, p, impl); };
  };
}

// Backward reads dout, x and w and writes dx, dw and db.
double conv_backward_bytes(const TensorMap& in, const Shape& out) {
  const Tensor &x = in.at("x"), &w = in.at("w");
  return 4.0 * (shape_numel(out) + 2.0 * (x.numel() + w.numel()) + in.at("b").numel());
}

}  // namespace

OpDef conv2d_op_def() {
  OpDef def;
  def.name = "conv2d";
  def.implementations = conv_variants().implementations();
  def.run = conv_runner("conv2d", conv2d_forward, conv2d_backward);
  def.make_timed = conv_timed("conv2d", conv2d_forward, conv2d_backward);
  // FLOPs of the forward pass; backward costs twice that (dx and dw are one such product each).
  def.flops = [](const TensorMap& in, const Attrs& attrs) {
    const Conv2dGeometry g = conv2d_case_geometry(in, attrs);
    return 2.0 * g.n * g.f * g.oh * g.ow * g.cg * g.kh * g.kw;
  };
  def.bytes = [](const TensorMap& in, const Attrs& attrs) {
    const Conv2dGeometry g = conv2d_case_geometry(in, attrs);
    return 4.0 * (g.n * g.c * g.h * g.w + g.f * g.cg * g.kh * g.kw + g.f + g.n * g.f * g.oh * g.ow);
  };
  def.backward_flops = [flops = def.flops](const TensorMap& in, const Attrs& attrs) { return 2.0 * flops(in, attrs); };
  def.backward_bytes = [](const TensorMap& in, const Attrs& attrs) {
    const Conv2dGeometry g = conv2d_case_geometry(in, attrs);
    return conv_backward_bytes(in, {g.n, g.f, g.oh, g.ow});
  };
  def.cases = {
      conv_case("small_odd", {2, 3, 7, 5}, {4, 3, 3, 2}, 4, 1, 0),
      conv_case("stride2_pad1", {2, 3, 7, 7}, {2, 3, 3, 3}, 2, 2, 1),
      conv_case("stride3_pad2_nonsquare", {3, 2, 9, 11}, {5, 2, 4, 3}, 5, 3, 2),
      conv_case("pointwise_1x1", {2, 8, 5, 6}, {4, 8, 1, 1}, 4, 1, 0),
      conv_case("groups3", {2, 6, 8, 7}, {9, 2, 3, 3}, 9, 1, 1, 3),
      conv_case("depthwise", {2, 4, 6, 6}, {4, 1, 3, 3}, 4, 2, 1, 4),
      conv_case("cs231n", {100, 3, 31, 31}, {25, 3, 3, 3}, 25, 2, 1),
      conv_case("c64_28x28", {64, 64, 28, 28}, {64, 64, 3, 3}, 64, 1, 1, 1, true),
      conv_case("c64_56x56", {64, 64, 56, 56}, {64, 64, 3, 3}, 64, 1, 1, 1, true),
  };
  return def;
}

OpDef conv_transpose2d_op_def() {
  OpDef def;
  def.name = "conv_transpose2d";
  def.implementations = conv_variants().implementations();
  def.run = conv_runner("conv_transpose2d", conv_transpose2d_forward, conv_transpose2d_backward);
  def.make_timed = conv_timed("conv_transpose2d", conv_transpose2d_forward, conv_transpose2d_backward);
  // FLOPs of the forward pass, a conv2d backward-data: 2 * (x elements) * Cout * KH * KW.
  def.flops = [](const TensorMap& in, const Attrs&) {
    const Tensor &x = in.at("x"), &w = in.at("w");
    return 2.0 * x.numel() * w.size(1) * w.size(2) * w.size(3);
  };
  auto out_shape = [](const TensorMap& in, const Attrs& attrs) {
    return conv_transpose2d_out_shape(in.at("x"), in.at("w"), conv_params("conv_transpose2d", attrs));
  };
  def.bytes = [out_shape](const TensorMap& in, const Attrs& attrs) {
    const Tensor &x = in.at("x"), &w = in.at("w");
    return 4.0 * (x.numel() + w.numel() + w.size(1) + shape_numel(out_shape(in, attrs)));
  };
  def.backward_flops = [flops = def.flops](const TensorMap& in, const Attrs& attrs) { return 2.0 * flops(in, attrs); };
  def.backward_bytes = [out_shape](const TensorMap& in, const Attrs& attrs) {
    return conv_backward_bytes(in, out_shape(in, attrs));
  };
  def.cases = {
      conv_case("small_s2_p1", {2, 4, 4, 4}, {4, 3, 4, 4}, 3, 2, 1),
      conv_case("odd_s1", {1, 3, 5, 3}, {3, 2, 3, 2}, 2, 1, 0),
      conv_case("stride3_pad1_nonsquare", {2, 2, 3, 4}, {2, 3, 3, 5}, 3, 3, 1),
      conv_case("pad2", {2, 3, 6, 5}, {3, 2, 5, 5}, 2, 2, 2),
      conv_case("dcgan_7to14", {128, 128, 7, 7}, {128, 64, 4, 4}, 64, 2, 1, 1, true),
      conv_case("c64_28to56", {64, 64, 28, 28}, {64, 64, 4, 4}, 64, 2, 1, 1, true),
  };
  return def;
}

}  // namespace cudl
