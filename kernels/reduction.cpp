// Reductions: argument checks, the reduced shape, dispatch, and the registry
// entries (sum, mean).
#include "kernels/reduction.h"

#include <cstdlib>
#include <string>

#include "core/check.h"
#include "kernels/broadcast.h"
#include "kernels/cpu/reduction.h"
#include "kernels/elementwise.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/reduction.h"
#endif

namespace cudl {

namespace {

// Which of x's dims `dims` names (all of them when empty).
std::vector<bool> reduced_dims(const char* op, const Shape& x, const std::vector<std::int64_t>& dims) {
  const auto rank = static_cast<std::int64_t>(x.size());
  std::vector<bool> reduce(x.size(), dims.empty());
  for (std::int64_t d : dims) {
    CUDL_CHECK(d >= -rank && d < rank, op, ": dim ", d, " out of range for shape ", shape_str(x));
    const std::int64_t k = d < 0 ? d + rank : d;
    CUDL_CHECK(!reduce[k], op, ": dim ", d, " given twice");
    reduce[k] = true;
  }
  return reduce;
}

Shape reduced_shape(const Shape& x, const std::vector<bool>& reduce, bool keepdim) {
  Shape out;
  for (std::size_t d = 0; d < x.size(); ++d)
    if (!reduce[d] || keepdim) out.push_back(reduce[d] ? 1 : x[d]);
  return out;
}

std::int64_t reduced_count(const Shape& x, const std::vector<bool>& reduce) {
  std::int64_t n = 1;
  for (std::size_t d = 0; d < x.size(); ++d)
    if (reduce[d]) n *= x[d];
  return n;
}

using ReduceSumKernel = void (*)(const Tensor& x, const std::vector<bool>& reduce, float scale, Tensor& out);

const VariantTable<ReduceSumKernel>& reduce_sum_variants() {
  static const VariantTable<ReduceSumKernel> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, cpu::reduce_sum_omp},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, cpu::reduce_sum_naive},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, cuda::reduce_sum_fast},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, cuda::reduce_sum_naive},
#endif
  }};
  return table;
}

// The sum over the flagged dims, times scale, shaped `out_shape`.
Tensor reduce_sum(const char* op, const Tensor& x, const std::vector<bool>& reduce, float scale, const Shape& out_shape,
                  Impl impl) {
  CUDL_CHECK(x.dim() <= kMaxBroadcastDims, op, ": expected at most ", kMaxBroadcastDims, " dimensions, got ",
             x.str());
  Tensor out = Tensor::empty(out_shape, DType::F32, x.device());
  reduce_sum_variants().select(op, x.device(), impl)(x, reduce, scale, out);
  return out;
}

Tensor reduce_forward(const char* op, bool mean, const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim,
                      Impl impl) {
  check_float(op, "x", x);
  const std::vector<bool> reduce = reduced_dims(op, x.shape(), dims);
  const float scale = mean ? static_cast<float>(1.0 / static_cast<double>(reduced_count(x.shape(), reduce))) : 1.0f;
  return reduce_sum(op, x, reduce, scale, reduced_shape(x.shape(), reduce, keepdim), impl);
}

Tensor reduce_backward(const char* op, bool mean, const Tensor& dout, const Shape& x_shape,
                       const std::vector<std::int64_t>& dims, bool keepdim, Impl impl) {
  check_float(op, "dout", dout);
  const std::vector<bool> reduce = reduced_dims(op, x_shape, dims);
  check_shape(op, "dout", dout, reduced_shape(x_shape, reduce, keepdim));
  // dout with the reduced dims back as size 1, then expanded; a mean's 1/count
  // is applied to dout, the smaller tensor.
  const Tensor kept = dout.reshape(reduced_shape(x_shape, reduce, true));
  if (!mean) return broadcast_to(kept, x_shape, impl);
  const float scale = static_cast<float>(1.0 / static_cast<double>(reduced_count(x_shape, reduce)));
  return broadcast_to(scale_shift_forward(kept, scale, 0.0f, impl), x_shape, impl);
}

}  // namespace

Tensor sum_forward(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim, Impl impl) {
  return reduce_forward("sum", false, x, dims, keepdim, impl);
}

Tensor mean_forward(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim, Impl impl) {
  return reduce_forward("mean", true, x, dims, keepdim, impl);
}

Tensor sum_backward(const Tensor& dout, const Shape& x_shape, const std::vector<std::int64_t>& dims, bool keepdim,
                    Impl impl) {
  return reduce_backward("sum", false, dout, x_shape, dims, keepdim, impl);
}

Tensor mean_backward(const Tensor& dout, const Shape& x_shape, const std::vector<std::int64_t>& dims, bool keepdim,
                     Impl impl) {
  return reduce_backward("mean", true, dout, x_shape, dims, keepdim, impl);
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape, Impl impl) {
  check_float("sum_to_shape", "x", x);
  CUDL_CHECK(broadcasts_to(shape, x.shape()), "sum_to_shape: cannot sum ",
             shape_str(x.shape()), " to ", shape_str(shape));
  if (x.shape() == shape) return x.clone();
  // Reduce x's leading dims that `shape` lacks, and those where it has size 1.
  const std::size_t lead = x.shape().size() - shape.size();
  std::vector<bool> reduce(x.shape().size());
  for (std::size_t d = 0; d < reduce.size(); ++d) reduce[d] = d < lead || (shape[d - lead] == 1 && x.shape()[d] != 1);
  return reduce_sum("sum_to_shape", x, reduce, 1.0f, shape, impl);
}

// ---- registry entries ----
namespace {

// The "dims" attribute: comma-separated dims ("0,2,3", "-1"); absent, every dim.
std::vector<std::int64_t> dims_attr(const char* op, const Attrs& attrs) {
  std::vector<std::int64_t> dims;
  if (!attrs.has("dims")) return dims;
  const std::string text = attrs.values().at("dims");
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, end - begin);
    char* stop = nullptr;
    const long long d = std::strtoll(item.c_str(), &stop, 10);
    CUDL_CHECK(!item.empty() && *stop == '\0', op, ": attribute 'dims' is not a list of integers: '", text, "'");
    dims.push_back(d);
    begin = end + 1;
  }
  return dims;
}

OpDef reduction_op_def(const char* name, bool mean) {
  OpDef def;
  def.name = name;
  def.implementations = reduce_sum_variants().implementations();
  def.run = [name, mean](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const std::vector<std::int64_t> dims = dims_attr(name, attrs);
    const bool keepdim = attrs.get_int(name, "keepdim", 0) != 0;
    const Tensor x = input_on(name, in, "x", device);
    TensorMap results;
    Tensor out = reduce_forward(name, mean, x, dims, keepdim, impl);
    put_result(results, "out", out);
    if (backward)
      put_result(results, "dx",
                 reduce_backward(name, mean, upstream_gradient(in, out, device), x.shape(), dims, keepdim, impl));
    return results;
  };
  def.make_timed = [name, mean](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const std::vector<std::int64_t> dims = dims_attr(name, attrs);
    const bool keepdim = attrs.get_int(name, "keepdim", 0) != 0;
    const Tensor& x = ws.at("x");
    if (!backward) return [name, mean, &x, dims, keepdim, impl] { reduce_forward(name, mean, x, dims, keepdim, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, reduce_forward(name, mean, x, dims, keepdim, impl));
    return [name, mean, &dout, &x, dims, keepdim, impl] {
      reduce_backward(name, mean, dout, x.shape(), dims, keepdim, impl);
    };
  };
  // One addition and one read per input element (backward: one write each).
  def.flops = [](const TensorMap& in, const Attrs&) { return static_cast<double>(in.at("x").numel()); };
  def.bytes = [](const TensorMap& in, const Attrs&) { return 4.0 * static_cast<double>(in.at("x").numel()); };
  def.backward_flops = def.flops;
  def.backward_bytes = def.bytes;
  def.cases = {
      {"all_odd", {{"x", {3, 5, 7}}}, {}},
      {"last_dim", {{"x", {128, 100}}}, {{"dims", "-1"}}},
      {"first_dim", {{"x", {37, 13}}}, {{"dims", "0"}}},
      {"bias_gradient", {{"x", {4096, 10}}}, {{"dims", "0"}}},
      {"middle_keepdim", {{"x", {4, 6, 5}}}, {{"dims", "1"}, {"keepdim", "1"}}},
      {"outer_and_inner", {{"x", {3, 4, 5, 6}}}, {{"dims", "0,3"}}},
      {"channels_keepdim", {{"x", {50, 32, 32, 32}}}, {{"dims", "0,2,3"}, {"keepdim", "1"}}},
      {"all_conv_activations", {{"x", {50, 32, 32, 32}}}, {}},
      {"large", {{"x", {64, 64, 64, 64}}}, {{"dims", "0,2,3"}}, true},
  };
  return def;
}

}  // namespace

OpDef sum_op_def() { return reduction_op_def("sum", false); }
OpDef mean_op_def() { return reduction_op_def("mean", true); }

}  // namespace cudl
