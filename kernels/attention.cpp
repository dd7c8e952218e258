// scaled_dot_product_attention: argument checks, dispatch, and the registry entry.
#include "kernels/attention.h"

#include <cmath>
#include <memory>

#include "core/check.h"
#include "kernels/cpu/attention.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/attention.h"
#endif

namespace cudl {

namespace {
constexpr const char* kOp = "scaled_dot_product_attention";

// Checks q, k, v and the mask; returns the sizes the kernels take.
AttentionDims attention_dims(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  check_float(kOp, "q", q);
  check_float(kOp, "k", k);
  check_float(kOp, "v", v);
  check_ndim(kOp, "q", q, 4);
  check_ndim(kOp, "k", k, 4);
  CUDL_CHECK(q.numel() > 0 && k.numel() > 0, kOp, ": expected non-empty q [N,H,S,Dh] and k [N,H,T,Dh], got q ",
             q.str(), ", k ", k.str());
  CUDL_CHECK(k.size(0) == q.size(0) && k.size(1) == q.size(1) && k.size(3) == q.size(3), kOp,
             ": expected k [N,H,T,Dh] with q's N, H, Dh (q ", q.str(), "), got ", k.str());
  check_shape(kOp, "v", v, k.shape());
  check_same_device(kOp, {{"q", &q}, {"k", &k}, {"v", &v}});
  const std::int64_t s = q.size(2), t = k.size(2), dh = q.size(3);
  if (o.mask != nullptr) {
    check_float(kOp, "attn_mask", *o.mask);
    check_shape(kOp, "attn_mask", *o.mask, {s, t});
    check_same_device(kOp, {{"q", &q}, {"attn_mask", o.mask}});
  }
  const float scale = o.scale.value_or(1.0f / std::sqrt(static_cast<float>(dh)));
  CUDL_CHECK(std::isfinite(scale), kOp, ": expected a finite scale, got ", scale);
  return {q.size(0) * q.size(1), s, t, dh, scale, o.causal, o.mask ? o.mask->data<float>() : nullptr};
}

#if CUDL_WITH_CUDA
void check_flash_head_dim(const AttentionDims& d) {
  CUDL_CHECK(d.dh <= cuda::kFlashMaxHeadDim, kOp, ": the flash kernels take head dims up to ",
             cuda::kFlashMaxHeadDim, ", got Dh = ", d.dh, " (Impl::Naive has no limit)");
}
#endif

struct AttentionKernels {
  void (*forward)(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d, Tensor& out, Tensor& lse);
  void (*backward)(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                   const Tensor& lse, const AttentionDims& d, Tensor& dq, Tensor& dk, Tensor& dv);
};

const VariantTable<AttentionKernels>& attention_variants() {
  static const VariantTable<AttentionKernels> table{{
      {"cpu_blas", DeviceType::CPU, VariantKind::Fast, {cpu::attention_forward_blas, cpu::attention_backward_blas}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::attention_forward_naive, cpu::attention_backward_naive}},
#if CUDL_WITH_CUDA
      {"cuda_flash", DeviceType::CUDA, VariantKind::Fast,
       {[](const Tensor& q, const Tensor& k, const Tensor& v, const AttentionDims& d, Tensor& out, Tensor& lse) {
          check_flash_head_dim(d);
          cuda::attention_forward_flash(q, k, v, d, out, lse);
        },
        [](const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
           const AttentionDims& d, Tensor& dq, Tensor& dk, Tensor& dv) {
          check_flash_head_dim(d);
          cuda::attention_backward_flash(dout, q, k, v, out, lse, d, dq, dk, dv);
        }}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive,
       {cuda::attention_forward_naive, cuda::attention_backward_naive}},
#endif
  }};
  return table;
}

Shape lse_shape(const Tensor& q) { return {q.size(0), q.size(1), q.size(2)}; }
}  // namespace

AttentionForward scaled_dot_product_attention_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                                      const AttentionOptions& options, Impl impl) {
  const AttentionDims d = attention_dims(q, k, v, options);
  AttentionForward r{Tensor::empty(q.shape(), DType::F32, q.device()),
                     Tensor::empty(lse_shape(q), DType::F32, q.device())};
  attention_variants().select(kOp, q.device(), impl).forward(q, k, v, d, r.out, r.lse);
  return r;
}

AttentionGrads scaled_dot_product_attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k,
                                                     const Tensor& v, const Tensor& out, const Tensor& lse,
                                                     const AttentionOptions& options, Impl impl) {
  const AttentionDims d = attention_dims(q, k, v, options);
  check_float(kOp, "dout", dout);
  check_shape(kOp, "dout", dout, q.shape());
  check_float(kOp, "out", out);
  check_shape(kOp, "out", out, q.shape());
  check_float(kOp, "lse", lse);
  check_shape(kOp, "lse", lse, lse_shape(q));
  check_same_device(kOp, {{"q", &q}, {"dout", &dout}, {"out", &out}, {"lse", &lse}});
  AttentionGrads g{Tensor::empty(q.shape(), DType::F32, q.device()), Tensor::empty(k.shape(), DType::F32, q.device()),
                   Tensor::empty(v.shape(), DType::F32, q.device())};
  attention_variants().select(kOp, q.device(), impl).backward(dout, q, k, v, out, lse, d, g.dq, g.dk, g.dv);
  return g;
}

namespace {
AttentionOptions options_from(const Attrs& attrs, const Tensor* mask) {
  AttentionOptions o;
  o.causal = attrs.get_int(kOp, "causal", 0) != 0;
  o.mask = mask;
  if (attrs.has("scale")) o.scale = static_cast<float>(attrs.get_float(kOp, "scale"));
  return o;
}

// Query-key pairs that attend under causal alone (the mask's zeros are data, not shape).
double visible_pairs(const TensorMap& in, const Attrs& attrs) {
  const Tensor &q = in.at("q"), &k = in.at("k");
  const std::int64_t s = q.size(2), t = k.size(2);
  double pairs = 0;
  for (std::int64_t i = 0; i < s; ++i) pairs += attrs.get_int(kOp, "causal", 0) ? std::min(i + 1, t) : t;
  return pairs * static_cast<double>(q.size(0) * q.size(1));
}
}  // namespace

OpDef scaled_dot_product_attention_op_def() {
  OpDef def;
  def.name = kOp;
  def.implementations = attention_variants().implementations();
  def.run = [](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    Tensor q = input_on(kOp, in, "q", device), k = input_on(kOp, in, "k", device), v = input_on(kOp, in, "v", device);
    Tensor mask = in.count("attn_mask") ? input_on(kOp, in, "attn_mask", device) : Tensor();
    const AttentionOptions o = options_from(attrs, mask.defined() ? &mask : nullptr);
    AttentionForward f = scaled_dot_product_attention_forward(q, k, v, o, impl);
    TensorMap results;
    put_result(results, "out", f.out);
    if (backward) {
      AttentionGrads g = scaled_dot_product_attention_backward(upstream_gradient(in, f.out, device), q, k, v, f.out,
                                                               f.lse, o, impl);
      put_result(results, "dq", g.dq);
      put_result(results, "dk", g.dk);
      put_result(results, "dv", g.dv);
    }
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const Tensor &q = ws.at("q"), &k = ws.at("k"), &v = ws.at("v");
    const AttentionOptions o = options_from(attrs, ws.count("attn_mask") ? &ws.at("attn_mask") : nullptr);
    if (!backward) return [&q, &k, &v, o, impl] { scaled_dot_product_attention_forward(q, k, v, o, impl); };
    auto f = std::make_shared<AttentionForward>(scaled_dot_product_attention_forward(q, k, v, o, impl));
    const Tensor& dout = timed_upstream_gradient(ws, f->out);
    return [&dout, &q, &k, &v, f, o, impl] {
      scaled_dot_product_attention_backward(dout, q, k, v, f->out, f->lse, o, impl);
    };
  };
  // Two products over the visible pairs forward (q k^T, p v), four backward (dp, dv,
  // dq, dk; the recomputed scores are not counted).
  def.flops = [](const TensorMap& in, const Attrs& attrs) {
    return 4.0 * visible_pairs(in, attrs) * static_cast<double>(in.at("q").size(3));
  };
  def.backward_flops = [](const TensorMap& in, const Attrs& attrs) {
    return 8.0 * visible_pairs(in, attrs) * static_cast<double>(in.at("q").size(3));
  };
  // Forward reads q, k, v and writes out and lse; backward reads those plus dout
  // and writes dq, dk, dv.
  def.bytes = [](const TensorMap& in, const Attrs&) {
    const Tensor& q = in.at("q");
    return 4.0 * static_cast<double>(2 * q.numel() + 2 * in.at("k").numel() + q.numel() / q.size(3));
  };
  def.backward_bytes = [](const TensorMap& in, const Attrs&) {
    const Tensor& q = in.at("q");
    return 4.0 * static_cast<double>(4 * q.numel() + 4 * in.at("k").numel() + q.numel() / q.size(3));
  };
  using K = InputSpec::Kind;
  auto qkv = [](std::int64_t n, std::int64_t h, std::int64_t s, std::int64_t t, std::int64_t dh) {
    return std::vector<InputSpec>{{"q", {n, h, s, dh}, K::Normal}, {"k", {n, h, t, dh}, K::Normal},
                                  {"v", {n, h, t, dh}, K::Normal}};
  };
  auto masked = [](std::vector<InputSpec> inputs, std::int64_t s, std::int64_t t) {
    inputs.push_back({"attn_mask", {s, t}, K::Mask});
    return inputs;
  };
  const Attrs causal{{"causal", "1"}}, full{{"causal", "0"}};
  // Odd sizes that fill no tile of the flash kernels; Dh below, at and between the
  // compiled head dims; S != T both ways; a mask with causal on top; two keys
  // under a mask, so that some rows attend nothing (test_attention.cpp checks that
  // seed 42 makes some). No case has a single key: dq and dk are then zero in exact
  // arithmetic, and float noise cannot be compared relatively.
  def.cases = {
      {"odd_cross", qkv(1, 3, 5, 7, 4), full},
      {"odd_causal", qkv(2, 2, 37, 37, 24), causal},
      {"causal_more_queries", qkv(1, 2, 70, 45, 64), causal},
      {"causal_more_keys", qkv(1, 2, 45, 70, 64), causal},
      {"masked", masked(qkv(2, 2, 33, 65, 64), 33, 65), full},
      {"masked_causal", masked(qkv(1, 3, 66, 66, 128), 66, 66), causal},
      {"rows_masked_out", masked(qkv(2, 2, 32, 2, 8), 32, 2), full},
      {"head_dim_96", qkv(1, 2, 50, 80, 96), full},
      {"cs231n_caption_self", qkv(25, 2, 16, 16, 128), causal},
      {"image_grid_cross", qkv(25, 2, 16, 49, 128), full},
      {"seq_256_dh64", qkv(2, 4, 256, 256, 64), full},
      {"seq_256_dh64_causal", qkv(2, 4, 256, 256, 64), causal},
      {"seq_128_dh128", qkv(2, 4, 128, 128, 128), full},
      {"large_seq_1024_dh64", qkv(4, 8, 1024, 1024, 64), full, true},
      {"large_seq_1024_dh128_causal", qkv(4, 8, 1024, 1024, 128), causal, true},
      {"large_seq_4096_dh64_causal", qkv(2, 8, 4096, 4096, 64), causal, true},
      {"large_seq_4096_dh128", qkv(2, 8, 4096, 4096, 128), full, true},
  };
  return def;
}

}  // namespace cudl
