// Shape ops (permute, transpose, concat, slice, split, chunk): argument checks,
// dispatch, and the registry entries of permute, concat and slice.
#include "kernels/shape.h"

#include <numeric>
#include <sstream>
#include <string>

#include "core/check.h"
#include "kernels/cpu/shape.h"
#include "kernels/permute_geometry.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/shape.h"
#endif

namespace cudl {

namespace {
// `dim` of a tensor with `ndim` dims, negative counting from the end.
std::int64_t resolve_dim(const char* op, std::int64_t dim, std::int64_t ndim) {
  CUDL_CHECK(dim >= -ndim && dim < ndim, op, ": expected dim in [", -ndim, ", ", ndim, "), got ", dim);
  return dim < 0 ? dim + ndim : dim;
}

std::vector<std::int64_t> resolve_permutation(const std::vector<std::int64_t>& dims, const Tensor& x) {
  CUDL_CHECK(static_cast<std::int64_t>(dims.size()) == x.dim(), "permute: expected ", x.dim(), " dims for ",
             x.str(), ", got ", dims.size());
  CUDL_CHECK(x.dim() <= kMaxPermuteDims, "permute: at most ", kMaxPermuteDims, " dims, got ", x.str());
  std::vector<std::int64_t> resolved(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    resolved[i] = resolve_dim("permute", dims[i], x.dim());
    CUDL_CHECK(!seen[resolved[i]], "permute: dim ", dims[i], " appears twice in the permutation");
    seen[resolved[i]] = true;
  }
  return resolved;
}

// The tensor as [outer, size(dim) * inner]: the rows that concat and slice copy.
struct RowsAround {
  std::int64_t outer = 1, inner = 1;
};
RowsAround rows_around(const Shape& shape, std::int64_t dim) {
  RowsAround r;
  for (std::int64_t d = 0; d < dim; ++d) r.outer *= shape[d];
  for (std::int64_t d = dim + 1; d < static_cast<std::int64_t>(shape.size()); ++d) r.inner *= shape[d];
  return r;
}

using CopyRowsKernel = void (*)(const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld,
                                std::int64_t rows, std::int64_t cols, int device);

// The copies behind concat and slice.
const VariantTable<CopyRowsKernel>& copy_rows_variants() {
  static const VariantTable<CopyRowsKernel> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast,
       [](const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld, std::int64_t rows, std::int64_t cols,
          int) { cpu::copy_rows_omp(src, src_ld, dst, dst_ld, rows, cols); }},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive,
       [](const float* src, std::int64_t src_ld, float* dst, std::int64_t dst_ld, std::int64_t rows, std::int64_t cols,
          int) { cpu::copy_rows_naive(src, src_ld, dst, dst_ld, rows, cols); }},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, cuda::copy_rows_vec4},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, cuda::copy_rows_naive},
#endif
  }};
  return table;
}

void copy_rows(const char* op, Device device, Impl impl, const float* src, std::int64_t src_ld, float* dst,
               std::int64_t dst_ld, std::int64_t rows, std::int64_t cols) {
  copy_rows_variants().select(op, device, impl)(src, src_ld, dst, dst_ld, rows, cols, device.index);
}

// `simplify`: merge and drop dims first (permute_geometry); the naive variants
// keep the dims as given, as the reference.
struct PermuteKernel {
  bool simplify;
  void (*run)(const PermuteGeometry& g, const float* x, float* out, int device);
};

const VariantTable<PermuteKernel>& permute_variants() {
  static const VariantTable<PermuteKernel> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast,
       {true, [](const PermuteGeometry& g, const float* x, float* out, int) { cpu::permute_tiled(g, x, out); }}},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive,
       {false, [](const PermuteGeometry& g, const float* x, float* out, int) { cpu::permute_naive(g, x, out); }}},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, {true, cuda::permute_tiled}},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, {false, cuda::permute_naive}},
#endif
  }};
  return table;
}
}  // namespace

// ---- permute, transpose ----
Tensor permute_forward(const Tensor& x, const std::vector<std::int64_t>& dims, Impl impl) {
  check_float("permute", "x", x);
  const std::vector<std::int64_t> perm = resolve_permutation(dims, x);
  Shape shape(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) shape[i] = x.size(perm[i]);
  Tensor out = Tensor::empty(shape, DType::F32, x.device());
  const PermuteKernel& kernel = permute_variants().select("permute", x.device(), impl);
  if (out.numel() == 0) return out;
  kernel.run(permute_geometry(x.shape(), perm, !kernel.simplify), x.data<float>(), out.data<float>(), x.device().index);
  return out;
}

Tensor permute_backward(const Tensor& dout, const std::vector<std::int64_t>& dims, Impl impl) {
  check_float("permute", "dout", dout);
  const std::vector<std::int64_t> perm = resolve_permutation(dims, dout);
  std::vector<std::int64_t> inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<std::int64_t>(i);
  return permute_forward(dout, inverse, impl);
}

Tensor transpose_forward(const Tensor& x, std::int64_t dim0, std::int64_t dim1, Impl impl) {
  check_defined("transpose", "x", x);
  std::vector<std::int64_t> perm(static_cast<std::size_t>(x.dim()));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[resolve_dim("transpose", dim0, x.dim())], perm[resolve_dim("transpose", dim1, x.dim())]);
  return permute_forward(x, perm, impl);
}

// ---- concat ----
Tensor concat_forward(const std::vector<const Tensor*>& xs, std::int64_t dim, Impl impl) {
  CUDL_CHECK(!xs.empty(), "concat: expected at least one tensor");
  for (const Tensor* x : xs) CUDL_CHECK(x != nullptr, "concat: a tensor pointer is null");
  const Tensor& first = *xs.front();
  check_float("concat", "x0", first);
  const std::int64_t d = resolve_dim("concat", dim, first.dim());
  Shape shape = first.shape();
  shape[d] = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = *xs[i];
    const std::string name = "x" + std::to_string(i);
    check_float("concat", name.c_str(), x);
    check_same_device("concat", {{"x0", &first}, {name.c_str(), &x}});
    Shape expected = first.shape();
    expected[d] = x.dim() == first.dim() ? x.size(d) : 0;
    CUDL_CHECK(x.shape() == expected, "concat: expected ", name, " to match x0 ", shape_str(first.shape()),
               " in every dim but ", d, ", got ", x.str());
    shape[d] += x.size(d);
  }
  Tensor out = Tensor::empty(shape, DType::F32, first.device());
  const RowsAround r = rows_around(shape, d);
  std::int64_t offset = 0;
  for (const Tensor* x : xs) {
    const std::int64_t cols = x->size(d) * r.inner;
    copy_rows("concat", out.device(), impl, x->data<float>(), cols, out.data<float>() + offset * r.inner,
              shape[d] * r.inner, r.outer, cols);
    offset += x->size(d);
  }
  return out;
}

std::vector<Tensor> concat_backward(const Tensor& dout, const std::vector<std::int64_t>& sizes, std::int64_t dim,
                                    Impl impl) {
  check_float("concat", "dout", dout);
  const std::int64_t d = resolve_dim("concat", dim, dout.dim());
  const std::int64_t total = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
  CUDL_CHECK(total == dout.size(d), "concat: the inputs' sizes along dim ", d, " add up to ", total, ", but dout is ",
             dout.str());
  std::vector<Tensor> grads;
  std::int64_t start = 0;
  for (std::int64_t size : sizes) {
    grads.push_back(slice_forward(dout, d, start, start + size, impl));
    start += size;
  }
  return grads;
}

// ---- slice, split, chunk ----
Tensor slice_forward(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end, Impl impl) {
  check_float("slice", "x", x);
  const std::int64_t d = resolve_dim("slice", dim, x.dim());
  CUDL_CHECK(0 <= start && start <= end && end <= x.size(d), "slice: expected 0 <= start <= end <= ", x.size(d),
             " (dim ", d, " of ", x.str(), "), got start ", start, ", end ", end);
  Shape shape = x.shape();
  shape[d] = end - start;
  Tensor out = Tensor::empty(shape, DType::F32, x.device());
  const RowsAround r = rows_around(x.shape(), d);
  copy_rows("slice", x.device(), impl, x.data<float>() + start * r.inner, x.size(d) * r.inner, out.data<float>(),
            shape[d] * r.inner, r.outer, shape[d] * r.inner);
  return out;
}

Tensor slice_backward(const Tensor& dout, const Shape& input_shape, std::int64_t dim, std::int64_t start, Impl impl) {
  check_float("slice", "dout", dout);
  const std::int64_t d = resolve_dim("slice", dim, static_cast<std::int64_t>(input_shape.size()));
  Shape expected = input_shape;
  expected[d] = dout.dim() == static_cast<std::int64_t>(input_shape.size()) ? dout.size(d) : 0;
  CUDL_CHECK(dout.shape() == expected && start >= 0 && start + dout.size(d) <= input_shape[d], "slice: dout ",
             dout.str(), " starting at ", start, " along dim ", d, " does not fit in the input ",
             shape_str(input_shape));
  Tensor dx = Tensor::zeros(input_shape, DType::F32, dout.device());
  const RowsAround r = rows_around(input_shape, d);
  copy_rows("slice", dout.device(), impl, dout.data<float>(), dout.size(d) * r.inner,
            dx.data<float>() + start * r.inner, input_shape[d] * r.inner, r.outer, dout.size(d) * r.inner);
  return dx;
}

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim, Impl impl) {
  check_defined("split", "x", x);
  const std::int64_t d = resolve_dim("split", dim, x.dim());
  CUDL_CHECK(split_size > 0, "split: expected split_size > 0, got ", split_size);
  std::vector<Tensor> parts;
  for (std::int64_t start = 0; start < x.size(d); start += split_size)
    parts.push_back(slice_forward(x, d, start, std::min(start + split_size, x.size(d)), impl));
  return parts;
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim, Impl impl) {
  check_defined("chunk", "x", x);
  CUDL_CHECK(chunks > 0, "chunk: expected chunks > 0, got ", chunks);
  const std::int64_t size = x.size(resolve_dim("chunk", dim, x.dim()));
  return split(x, std::max<std::int64_t>((size + chunks - 1) / chunks, 1), dim, impl);
}

// ---- registry entries ----
namespace {
// "0,2,1,3" -> {0, 2, 1, 3}
std::vector<std::int64_t> parse_dims(const Attrs& attrs) {
  CUDL_CHECK(attrs.has("dims"), "permute: missing attribute 'dims'");
  std::vector<std::int64_t> dims;
  std::stringstream text(attrs.values().at("dims"));
  for (std::string item; std::getline(text, item, ',');) dims.push_back(Attrs{{"d", item}}.get_int("permute", "d"));
  return dims;
}

// Pure copies: no FLOPs; every element read once and written once.
void set_copy_work(OpDef& def) {
  def.flops = [](const TensorMap&, const Attrs&) { return 0.0; };
  def.bytes = [](const TensorMap& in, const Attrs&) {
    double n = 0;
    for (const auto& [name, t] : in) n += static_cast<double>(t.numel());
    return 8.0 * n;
  };
  def.backward_bytes = def.bytes;
}

// concat's inputs x0, x1, ... in order.
std::vector<const Tensor*> numbered_inputs(const TensorMap& in) {
  std::vector<const Tensor*> xs;
  for (auto it = in.find("x0"); it != in.end(); it = in.find("x" + std::to_string(xs.size()))) xs.push_back(&it->second);
  CUDL_CHECK(!xs.empty(), "concat: missing input 'x0'");
  return xs;
}
}  // namespace

OpDef permute_op_def() {
  OpDef def;
  def.name = "permute";
  def.implementations = permute_variants().implementations();
  def.run = [](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const std::vector<std::int64_t> dims = parse_dims(attrs);
    Tensor x = input_on("permute", in, "x", device);
    TensorMap results;
    Tensor out = permute_forward(x, dims, impl);
    put_result(results, "out", out);
    if (backward) put_result(results, "dx", permute_backward(upstream_gradient(in, out, device), dims, impl));
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const std::vector<std::int64_t> dims = parse_dims(attrs);
    const Tensor& x = ws.at("x");
    if (!backward) return [&x, dims, impl] { permute_forward(x, dims, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, permute_forward(x, dims, impl));
    return [&dout, dims, impl] { permute_backward(dout, dims, impl); };
  };
  set_copy_work(def);
  using K = InputSpec::Kind;
  def.cases = {
      {"transpose_2d_odd", {{"x", {37, 53}, K::Normal}}, {{"dims", "1,0"}}},
      {"rotate_3d", {{"x", {3, 5, 7}, K::Normal}}, {{"dims", "2,0,1"}}},
      {"batched_transpose", {{"x", {3, 33, 65}, K::Normal}}, {{"dims", "0,2,1"}}},
      {"size_1_dims", {{"x", {2, 1, 5, 1, 3}, K::Normal}}, {{"dims", "4,3,2,1,0"}}},
      // Multi-head attention's split of heads: [N, T, H, Dh] -> [N, H, T, Dh].
      {"attention_heads", {{"x", {32, 64, 8, 64}, K::Normal}}, {{"dims", "0,2,1,3"}}},
      {"nchw_to_nhwc", {{"x", {16, 64, 32, 32}, K::Normal}}, {{"dims", "0,2,3,1"}}},
      {"large", {{"x", {64, 512, 1024}, K::Normal}}, {{"dims", "0,2,1"}}, true},
  };
  return def;
}

OpDef concat_op_def() {
  OpDef def;
  def.name = "concat";
  def.implementations = copy_rows_variants().implementations();
  def.run = [](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const std::int64_t dim = attrs.get_int("concat", "dim");
    std::vector<Tensor> on_device;
    for (const Tensor* x : numbered_inputs(in)) on_device.push_back(x->to(device));
    std::vector<const Tensor*> xs;
    std::vector<std::int64_t> sizes;
    for (const Tensor& x : on_device) {
      xs.push_back(&x);
      sizes.push_back(x.size(dim));
    }
    TensorMap results;
    Tensor out = concat_forward(xs, dim, impl);
    put_result(results, "out", out);
    if (backward) {
      std::vector<Tensor> grads = concat_backward(upstream_gradient(in, out, device), sizes, dim, impl);
      for (std::size_t i = 0; i < grads.size(); ++i) put_result(results, "dx" + std::to_string(i), grads[i]);
    }
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const std::int64_t dim = attrs.get_int("concat", "dim");
    const std::vector<const Tensor*> xs = numbered_inputs(ws);
    if (!backward) return [xs, dim, impl] { concat_forward(xs, dim, impl); };
    std::vector<std::int64_t> sizes;
    for (const Tensor* x : xs) sizes.push_back(x->size(dim));
    const Tensor& dout = timed_upstream_gradient(ws, concat_forward(xs, dim, impl));
    return [&dout, sizes, dim, impl] { concat_backward(dout, sizes, dim, impl); };
  };
  set_copy_work(def);
  using K = InputSpec::Kind;
  def.cases = {
      {"last_dim_odd", {{"x0", {3, 5}, K::Normal}, {"x1", {3, 2}, K::Normal}, {"x2", {3, 7}, K::Normal}}, {{"dim", "1"}}},
      {"first_dim", {{"x0", {2, 3, 4}, K::Normal}, {"x1", {5, 3, 4}, K::Normal}}, {{"dim", "0"}}},
      {"middle_dim_negative", {{"x0", {2, 3, 4}, K::Normal}, {"x1", {2, 1, 4}, K::Normal}}, {{"dim", "-2"}}},
      // A U-Net decoder's skip connection: channels of the upsampled and the encoder map.
      {"unet_skip", {{"x0", {16, 64, 32, 32}, K::Normal}, {"x1", {16, 64, 32, 32}, K::Normal}}, {{"dim", "1"}}},
      {"large", {{"x0", {64, 256, 64, 64}, K::Normal}, {"x1", {64, 128, 64, 64}, K::Normal}}, {{"dim", "1"}}, true},
  };
  return def;
}

OpDef slice_op_def() {
  OpDef def;
  def.name = "slice";
  def.implementations = copy_rows_variants().implementations();
  struct Range {
    std::int64_t dim, start, end;
  };
  auto range = [](const Attrs& a) {
    return Range{a.get_int("slice", "dim"), a.get_int("slice", "start"), a.get_int("slice", "end")};
  };
  def.run = [range](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const Range r = range(attrs);
    Tensor x = input_on("slice", in, "x", device);
    TensorMap results;
    Tensor out = slice_forward(x, r.dim, r.start, r.end, impl);
    put_result(results, "out", out);
    if (backward)
      put_result(results, "dx", slice_backward(upstream_gradient(in, out, device), x.shape(), r.dim, r.start, impl));
    return results;
  };
  def.make_timed = [range](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const Range r = range(attrs);
    const Tensor& x = ws.at("x");
    if (!backward) return [&x, r, impl] { slice_forward(x, r.dim, r.start, r.end, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, slice_forward(x, r.dim, r.start, r.end, impl));
    return [&dout, &x, r, impl] { slice_backward(dout, x.shape(), r.dim, r.start, impl); };
  };
  def.flops = [](const TensorMap&, const Attrs&) { return 0.0; };
  def.bytes = [range](const TensorMap& in, const Attrs& attrs) {  // the slice read once and written once
    const Range r = range(attrs);
    const Tensor& x = in.at("x");
    return 8.0 * static_cast<double>(x.numel() / x.size(r.dim) * (r.end - r.start));
  };
  def.backward_bytes = def.bytes;
  using K = InputSpec::Kind;
  def.cases = {
      {"last_dim_odd", {{"x", {4, 9}, K::Normal}}, {{"dim", "1"}, {"start", "2"}, {"end", "7"}}},
      {"first_dim", {{"x", {6, 3, 5}, K::Normal}}, {{"dim", "0"}, {"start", "1"}, {"end", "4"}}},
      {"middle_dim_negative", {{"x", {2, 7, 3}, K::Normal}}, {{"dim", "-2"}, {"start", "3"}, {"end", "7"}}},
      // The query third of a fused qkv projection: [N, T, 3E] -> [N, T, E].
      {"qkv_query", {{"x", {32, 128, 1536}, K::Normal}}, {{"dim", "2"}, {"start", "0"}, {"end", "512"}}},
      {"large", {{"x", {64, 128, 3072}, K::Normal}}, {{"dim", "2"}, {"start", "1024"}, {"end", "2048"}}, true},
  };
  return def;
}

}  // namespace cudl
