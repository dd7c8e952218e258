// timestep_embedding: argument checks, dispatch, and the registry entry.
#include "kernels/timestep_embedding.h"

#include "core/check.h"
#include "kernels/cpu/timestep_embedding.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/timestep_embedding.h"
#endif

namespace cudl {

namespace {
constexpr const char* kOp = "timestep_embedding";

using TimestepEmbeddingKernel = void (*)(const Tensor& t, Tensor& out);

const VariantTable<TimestepEmbeddingKernel>& timestep_embedding_variants() {
  static const VariantTable<TimestepEmbeddingKernel> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, cpu::timestep_embedding_sincos},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, cpu::timestep_embedding_naive},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, cuda::timestep_embedding_sincos},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, cuda::timestep_embedding_naive},
#endif
  }};
  return table;
}
}  // namespace

Tensor timestep_embedding(const Tensor& t, std::int64_t dim, Impl impl) {
  check_dtype(kOp, "t", t, DType::I64);
  check_ndim(kOp, "t", t, 1);
  CUDL_CHECK(dim >= 4 && dim % 2 == 0, kOp, ": expected an even dim >= 4 (half - 1 divides the exponent), got ", dim);
  Tensor out = Tensor::empty({t.size(0), dim}, DType::F32, t.device());
  const TimestepEmbeddingKernel kernel = timestep_embedding_variants().select(kOp, t.device(), impl);
  if (out.numel() == 0) return out;
  kernel(t, out);
  return out;
}

OpDef timestep_embedding_op_def() {
  OpDef def;
  def.name = kOp;
  def.implementations = timestep_embedding_variants().implementations();
  def.has_backward = false;
  def.run = [](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool) {
    TensorMap results;
    put_result(results, "out", timestep_embedding(input_on(kOp, in, "t", device), attrs.get_int(kOp, "dim"), impl));
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool) -> std::function<void()> {
    const Tensor& t = ws.at("t");
    const std::int64_t dim = attrs.get_int(kOp, "dim");
    return [&t, dim, impl] { timestep_embedding(t, dim, impl); };
  };
  // A sine or cosine (counted as one operation) per output; 8 bytes read per step, 4 written per output.
  def.flops = [](const TensorMap& in, const Attrs& attrs) {
    return static_cast<double>(in.at("t").numel() * attrs.get_int(kOp, "dim"));
  };
  def.bytes = [](const TensorMap& in, const Attrs& attrs) {
    return static_cast<double>(in.at("t").numel()) * (8.0 + 4.0 * static_cast<double>(attrs.get_int(kOp, "dim")));
  };
  using K = InputSpec::Kind;
  // The smallest width, a width whose half is odd, the notebook's U-Net (dim 48,
  // T = 100) and a wide embedding of a large batch of 1000-step times.
  def.cases = {
      {"dim4", {{"t", {3}, K::Labels, 1000}}, {{"dim", "4"}}},
      {"dim10", {{"t", {7}, K::Labels, 50}}, {{"dim", "10"}}},
      {"cs231n_unet", {{"t", {256}, K::Labels, 100}}, {{"dim", "48"}}},
      {"wide", {{"t", {1024}, K::Labels, 1000}}, {{"dim", "512"}}},
      {"large", {{"t", {1 << 16}, K::Labels, 1000}}, {{"dim", "1024"}}, true},
  };
  return def;
}

}  // namespace cudl
