// embedding: argument and index checks, dispatch, and the registry entry.
#include "kernels/embedding.h"

#include "core/check.h"
#include "kernels/cpu/embedding.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/embedding.h"
#endif

namespace cudl {

namespace {
constexpr const char* kOp = "embedding";

void check_indices(const Tensor& idx, std::int64_t v) {
  check_dtype(kOp, "idx", idx, DType::I64);
#if CUDL_WITH_CUDA
  const std::int64_t bad = idx.is_cuda() ? cuda::first_bad_index(idx, v) : cpu::first_bad_index(idx, v);
#else
  const std::int64_t bad = cpu::first_bad_index(idx, v);
#endif
  if (bad < 0) return;
  const std::int64_t value = idx.reshape({-1}).slice(bad, bad + 1).to_vector_i64()[0];
  detail::throw_error(kOp, ": index ", value, " at position ", bad, " of idx ", shape_str(idx.shape()),
                      " is out of range for ", v, " embeddings");
}

struct EmbeddingKernels {
  void (*forward)(const Tensor& idx, const Tensor& w, Tensor& out);
  void (*backward)(const Tensor& dout, const Tensor& idx, std::int64_t padding, Tensor& dw);
};

const VariantTable<EmbeddingKernels>& embedding_variants() {
  static const VariantTable<EmbeddingKernels> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, {cpu::embedding_forward_omp, cpu::embedding_backward_sorted}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::embedding_forward_naive, cpu::embedding_backward_naive}},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, {cuda::embedding_forward_rows, cuda::embedding_backward_sorted}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive,
       {cuda::embedding_forward_naive, cuda::embedding_backward_atomic}},
#endif
  }};
  return table;
}
}  // namespace

Tensor embedding_forward(const Tensor& idx, const Tensor& w, Impl impl) {
  check_float(kOp, "w", w);
  check_ndim(kOp, "w", w, 2);
  check_same_device(kOp, {{"idx", &idx}, {"w", &w}});
  check_indices(idx, w.size(0));
  Shape shape = idx.shape();
  shape.push_back(w.size(1));
  Tensor out = Tensor::empty(shape, DType::F32, w.device());
  embedding_variants().select(kOp, w.device(), impl).forward(idx, w, out);
  return out;
}

Tensor embedding_backward(const Tensor& dout, const Tensor& idx, std::int64_t num_embeddings,
                          std::optional<std::int64_t> padding_idx, Impl impl) {
  check_float(kOp, "dout", dout);
  check_same_device(kOp, {{"idx", &idx}, {"dout", &dout}});
  CUDL_CHECK(num_embeddings > 0, kOp, ": expected num_embeddings > 0, got ", num_embeddings);
  CUDL_CHECK(dout.dim() == idx.dim() + 1 && Shape(dout.shape().begin(), dout.shape().end() - 1) == idx.shape(), kOp,
             ": expected dout of shape idx ", shape_str(idx.shape()), " + [D], got ", dout.str());
  std::int64_t padding = -1;
  if (padding_idx) {
    CUDL_CHECK(*padding_idx >= -num_embeddings && *padding_idx < num_embeddings, kOp, ": padding_idx ", *padding_idx,
               " is out of range for ", num_embeddings, " embeddings");
    padding = *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
  }
  check_indices(idx, num_embeddings);
  Tensor dw = Tensor::empty({num_embeddings, dout.size(-1)}, DType::F32, dout.device());
  embedding_variants().select(kOp, dout.device(), impl).backward(dout, idx, padding, dw);
  return dw;
}

OpDef embedding_op_def() {
  OpDef def;
  def.name = kOp;
  def.implementations = embedding_variants().implementations();
  auto padding_of = [](const Attrs& attrs) {
    return attrs.has("padding_idx") ? std::optional<std::int64_t>(attrs.get_int(kOp, "padding_idx")) : std::nullopt;
  };
  def.run = [padding_of](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    Tensor idx = input_on(kOp, in, "idx", device), w = input_on(kOp, in, "w", device);
    TensorMap results;
    Tensor out = embedding_forward(idx, w, impl);
    put_result(results, "out", out);
    if (backward)
      put_result(results, "dw",
                 embedding_backward(upstream_gradient(in, out, device), idx, w.size(0), padding_of(attrs), impl));
    return results;
  };
  def.make_timed = [padding_of](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const Tensor &idx = ws.at("idx"), &w = ws.at("w");
    if (!backward) return [&idx, &w, impl] { embedding_forward(idx, w, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, embedding_forward(idx, w, impl));
    const std::optional<std::int64_t> padding = padding_of(attrs);
    return [&dout, &idx, &w, padding, impl] { embedding_backward(dout, idx, w.size(0), padding, impl); };
  };
  def.flops = [](const TensorMap&, const Attrs&) { return 0.0; };
  // Reads the indices and one row per position, writes the output (backward: reads
  // dout and the indices, writes dw).
  def.bytes = [](const TensorMap& in, const Attrs&) {
    const double n = static_cast<double>(in.at("idx").numel()), d = static_cast<double>(in.at("w").size(1));
    return 8.0 * n + 8.0 * n * d;
  };
  def.backward_flops = [](const TensorMap& in, const Attrs&) {
    return static_cast<double>(in.at("idx").numel() * in.at("w").size(1));
  };
  def.backward_bytes = [](const TensorMap& in, const Attrs&) {
    const double n = static_cast<double>(in.at("idx").numel());
    return 8.0 * n + 4.0 * n * static_cast<double>(in.at("w").size(1)) + 4.0 * static_cast<double>(in.at("w").numel());
  };
  using K = InputSpec::Kind;
  def.cases = {
      {"small", {{"idx", {2, 4}, K::Labels, 7}, {"w", {7, 5}, K::Normal}}, {}},
      {"repeated_rows", {{"idx", {3, 5}, K::Labels, 3}, {"w", {3, 6}, K::Normal}}, {}},
      {"padding_idx", {{"idx", {4, 6}, K::Labels, 5}, {"w", {5, 3}, K::Normal}}, {{"padding_idx", "1"}}},
      // CS231n's captioning RNN: a vocabulary of 1004 words, 256-d embeddings.
      {"captioning", {{"idx", {128, 17}, K::Labels, 1004}, {"w", {1004, 256}, K::Normal}}, {}},
      {"transformer_tokens", {{"idx", {32, 256}, K::Labels, 8192}, {"w", {8192, 256}, K::Normal}}, {}},
      {"large", {{"idx", {64, 1024}, K::Labels, 50257}, {"w", {50257, 768}, K::Normal}}, {}, true},
  };
  return def;
}

}  // namespace cudl
