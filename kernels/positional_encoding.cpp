// positional_encoding: argument checks, dispatch, and the registry entry.
#include "kernels/positional_encoding.h"

#include "core/check.h"
#include "kernels/cpu/positional_encoding.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/positional_encoding.h"
#endif

namespace cudl {

namespace {
constexpr const char* kOp = "positional_encoding";

using PositionalEncodingForward = void (*)(const Tensor& x, Tensor& out);

const VariantTable<PositionalEncodingForward>& positional_encoding_variants() {
  static const VariantTable<PositionalEncodingForward> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, cpu::positional_encoding_forward_table},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, cpu::positional_encoding_forward_naive},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, cuda::positional_encoding_forward_table},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, cuda::positional_encoding_forward_naive},
#endif
  }};
  return table;
}
}  // namespace

Tensor positional_encoding_forward(const Tensor& x, std::int64_t max_len, Impl impl) {
  check_float(kOp, "x", x);
  check_ndim(kOp, "x", x, 3);
  CUDL_CHECK(x.size(1) <= max_len, kOp, ": expected x [N, S, E] with S <= max_len = ", max_len, ", got ", x.str());
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  const PositionalEncodingForward kernel = positional_encoding_variants().select(kOp, x.device(), impl);
  if (x.numel() == 0) return out;
  kernel(x, out);
  return out;
}

Tensor positional_encoding_backward(const Tensor& dout, Impl impl) {
  check_float(kOp, "dout", dout);
  check_ndim(kOp, "dout", dout, 3);
  positional_encoding_variants().select(kOp, dout.device(), impl);  // the variants are those of forward
  return dout.clone();
}

OpDef positional_encoding_op_def() {
  OpDef def;
  def.name = kOp;
  def.implementations = positional_encoding_variants().implementations();
  def.run = [](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    Tensor x = input_on(kOp, in, "x", device);
    TensorMap results;
    Tensor out = positional_encoding_forward(x, attrs.get_int(kOp, "max_len"), impl);
    put_result(results, "out", out);
    if (backward) put_result(results, "dx", positional_encoding_backward(upstream_gradient(in, out, device), impl));
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const Tensor& x = ws.at("x");
    const std::int64_t max_len = attrs.get_int(kOp, "max_len");
    if (!backward) return [&x, max_len, impl] { positional_encoding_forward(x, max_len, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, positional_encoding_forward(x, max_len, impl));
    return [&dout, impl] { positional_encoding_backward(dout, impl); };
  };
  def.flops = [](const TensorMap& in, const Attrs&) { return static_cast<double>(in.at("x").numel()); };
  def.bytes = [](const TensorMap& in, const Attrs&) { return 8.0 * static_cast<double>(in.at("x").numel()); };
  def.backward_bytes = def.bytes;
  using K = InputSpec::Kind;
  // An odd width (the last pair has no cosine), a sequence as long as the table,
  // CS231n's captioning width and length, a long sequence where float angles drift.
  def.cases = {
      {"odd_width", {{"x", {3, 7, 9}, K::Normal}}, {{"max_len", "16"}}},
      {"full_length", {{"x", {2, 50, 32}, K::Normal}}, {{"max_len", "50"}}},
      {"cs231n_captions", {{"x", {25, 16, 256}, K::Normal}}, {{"max_len", "5000"}}},
      {"long_sequence", {{"x", {2, 4096, 64}, K::Normal}}, {{"max_len", "5000"}}},
      {"large", {{"x", {64, 1024, 1024}, K::Normal}}, {{"max_len", "5000"}}, true},
  };
  return def;
}

}  // namespace cudl
