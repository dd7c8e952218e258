// Elementwise plumbing ops: argument checks and broadcasting, dispatch of one
// ElementMap per call, and the registry entries (add, sub, mul, div, exp, log,
// sqrt, square, neg, scale_shift, where, masked_fill).
#include "kernels/elementwise.h"

#include <tuple>

#include <string>
#include <utility>
#include <vector>

#include "core/check.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/elementwise_math.h"
#include "kernels/reduction.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/elementwise.h"
#endif

namespace cudl {

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1, db = i < b.size() ? b[b.size() - 1 - i] : 1;
    CUDL_CHECK(da == db || da == 1 || db == 1, op, ": cannot broadcast ", shape_str(a), " with ", shape_str(b));
    out[rank - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "?";
}

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Square: return "square";
    case UnaryOp::Neg: return "neg";
  }
  return "?";
}

namespace {

using Named = std::pair<const char*, const Tensor*>;

using ElementMapKernel = void (*)(const MapSpec& spec, const std::vector<const Tensor*>& inputs, Tensor& out);

// The one kernel family behind every elementwise op (add ... where, masked_fill).
const VariantTable<ElementMapKernel>& element_map_variants() {
  static const VariantTable<ElementMapKernel> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, cpu::element_map_strided},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, cpu::element_map_naive},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, cuda::element_map_fast},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, cuda::element_map_naive},
#endif
  }};
  return table;
}

// The map over `inputs` (named for messages), shaped as they broadcast together,
// or as `shape` when given (broadcast_to). A cond map's first input is its
// condition, float32 or uint8; every other input is float32.
Tensor element_map(const char* op, const MapSpec& spec, std::initializer_list<Named> inputs, Impl impl,
                   const Shape* shape = nullptr) {
  std::vector<const Tensor*> tensors;
  Shape out_shape;
  for (const auto& [name, t] : inputs) {
    if (tensors.empty() && map_has_condition(spec.map)) {
      check_defined(op, name, *t);
      CUDL_CHECK(t->dtype() == DType::F32 || t->dtype() == DType::U8, op, ": expected ", name,
                 " to be float32 or uint8, got ", t->str());
    } else {
      check_float(op, name, *t);
    }
    out_shape = tensors.empty() ? t->shape() : broadcast_shapes(op, out_shape, t->shape());
    tensors.push_back(t);
  }
  check_same_device(op, inputs);
  if (shape) out_shape = *shape;
  CUDL_CHECK(out_shape.size() <= static_cast<std::size_t>(kMaxBroadcastDims), op, ": expected at most ",
             kMaxBroadcastDims, " dimensions, got ", shape_str(out_shape));
  const Device device = tensors[0]->device();
  Tensor out = Tensor::empty(out_shape, DType::F32, device);
  element_map_variants().select(op, device, impl)(spec, tensors, out);
  return out;
}

// A gradient computed at the broadcast shape, summed down to its input's shape
// (no copy when nothing was broadcast).
Tensor reduced_to(Tensor grad, const Shape& shape, Impl impl) {
  return grad.shape() == shape ? std::move(grad) : sum_to_shape(grad, shape, impl);
}

void check_upstream(const char* op, const Tensor& dout, const Shape& out_shape) {
  check_float(op, "dout", dout);
  check_shape(op, "dout", dout, out_shape);
}

}  // namespace

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, Impl impl) {
  static constexpr ElementMap kMaps[] = {ElementMap::Add, ElementMap::Sub, ElementMap::Mul, ElementMap::Div};
  return element_map(binary_op_name(op), {kMaps[static_cast<int>(op)]}, {{"a", &a}, {"b", &b}}, impl);
}

BinaryGrads binary_backward(BinaryOp op, const Tensor& dout, const Tensor& a, const Tensor& b, Impl impl) {
  const char* name = binary_op_name(op);
  check_float(name, "a", a);
  check_float(name, "b", b);
  check_upstream(name, dout, broadcast_shapes(name, a.shape(), b.shape()));
  check_same_device(name, {{"dout", &dout}, {"a", &a}, {"b", &b}});
  switch (op) {
    case BinaryOp::Add: return {sum_to_shape(dout, a.shape(), impl), sum_to_shape(dout, b.shape(), impl)};
    case BinaryOp::Sub: {
      // Negate after summing: the summed gradient is the smaller tensor.
      const Tensor db = sum_to_shape(dout, b.shape(), impl);
      return {sum_to_shape(dout, a.shape(), impl), element_map(name, {ElementMap::Scale, -1.0f}, {{"db", &db}}, impl)};
    }
    case BinaryOp::Mul:
      return {reduced_to(element_map(name, {ElementMap::Mul}, {{"dout", &dout}, {"b", &b}}, impl), a.shape(), impl),
              reduced_to(element_map(name, {ElementMap::Mul}, {{"dout", &dout}, {"a", &a}}, impl), b.shape(), impl)};
    case BinaryOp::Div:
      return {reduced_to(element_map(name, {ElementMap::Div}, {{"dout", &dout}, {"b", &b}}, impl), a.shape(), impl),
              reduced_to(element_map(name, {ElementMap::DivisorGrad}, {{"dout", &dout}, {"a", &a}, {"b", &b}}, impl),
                         b.shape(), impl)};
  }
  throw Error(std::string(name) + ": unknown binary op");
}

Tensor unary_forward(UnaryOp op, const Tensor& x, Impl impl) {
  static constexpr MapSpec kMaps[] = {
      {ElementMap::Exp}, {ElementMap::Log}, {ElementMap::Sqrt}, {ElementMap::Square}, {ElementMap::Scale, -1.0f}};
  return element_map(unary_op_name(op), kMaps[static_cast<int>(op)], {{"x", &x}}, impl);
}

bool unary_backward_uses_output(UnaryOp op) { return op == UnaryOp::Exp || op == UnaryOp::Sqrt; }

Tensor unary_backward(UnaryOp op, const Tensor& dout, const Tensor& saved, Impl impl) {
  const char* name = unary_op_name(op);
  const char* saved_name = unary_backward_uses_output(op) ? "out" : "x";
  check_float(name, saved_name, saved);
  check_upstream(name, dout, saved.shape());
  const std::initializer_list<Named> both = {{"dout", &dout}, {saved_name, &saved}};
  switch (op) {
    case UnaryOp::Exp: return element_map(name, {ElementMap::Mul}, both, impl);         // dout exp(x)
    case UnaryOp::Log: return element_map(name, {ElementMap::Div}, both, impl);         // dout / x
    case UnaryOp::Sqrt: return element_map(name, {ElementMap::Div, 0.5f}, both, impl);  // dout / (2 sqrt(x))
    case UnaryOp::Square: return element_map(name, {ElementMap::Mul, 2.0f}, both, impl);  // 2 x dout
    case UnaryOp::Neg: return element_map(name, {ElementMap::Scale, -1.0f}, {{"dout", &dout}}, impl);
  }
  throw Error(std::string(name) + ": unknown unary op");
}

Tensor scale_shift_forward(const Tensor& x, float scale, float shift, Impl impl) {
  return element_map("scale_shift", {ElementMap::ScaleShift, scale, shift}, {{"x", &x}}, impl);
}

Tensor scale_shift_backward(const Tensor& dout, float scale, Impl impl) {
  return element_map("scale_shift", {ElementMap::Scale, scale}, {{"dout", &dout}}, impl);
}

Tensor where_forward(const Tensor& cond, const Tensor& a, const Tensor& b, Impl impl) {
  return element_map("where", {ElementMap::Where}, {{"cond", &cond}, {"a", &a}, {"b", &b}}, impl);
}

WhereGrads where_backward(const Tensor& dout, const Tensor& cond, const Shape& a_shape, const Shape& b_shape,
                          Impl impl) {
  check_defined("where", "cond", cond);
  check_upstream("where", dout, broadcast_shapes("where", broadcast_shapes("where", cond.shape(), a_shape), b_shape));
  const std::initializer_list<Named> routed = {{"cond", &cond}, {"dout", &dout}};
  return {reduced_to(element_map("where", {ElementMap::KeepWhere}, routed, impl), a_shape, impl),
          reduced_to(element_map("where", {ElementMap::FillWhere, 0.0f}, routed, impl), b_shape, impl)};
}

Tensor masked_fill_forward(const Tensor& x, const Tensor& mask, float value, Impl impl) {
  return element_map("masked_fill", {ElementMap::FillWhere, value}, {{"mask", &mask}, {"x", &x}}, impl);
}

Tensor masked_fill_backward(const Tensor& dout, const Tensor& mask, const Shape& x_shape, Impl impl) {
  check_defined("masked_fill", "mask", mask);
  check_upstream("masked_fill", dout, broadcast_shapes("masked_fill", x_shape, mask.shape()));
  return reduced_to(element_map("masked_fill", {ElementMap::FillWhere, 0.0f}, {{"mask", &mask}, {"dout", &dout}}, impl),
                    x_shape, impl);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape, Impl impl) {
  check_defined("broadcast_to", "x", x);
  CUDL_CHECK(broadcasts_to(x.shape(), shape), "broadcast_to: cannot broadcast ",
             shape_str(x.shape()), " to ", shape_str(shape));
  return element_map("broadcast_to", {ElementMap::Scale}, {{"x", &x}}, impl, &shape);
}

// ---- registry entries ----
namespace {

using K = InputSpec::Kind;

double numel_of(const TensorMap& in, const char* name) { return static_cast<double>(in.at(name).numel()); }

// Output elements of a map over `names` (their broadcast shape).
double broadcast_numel(const TensorMap& in, std::initializer_list<const char*> names) {
  Shape shape;
  for (const char* n : names) shape = broadcast_shapes("registry", shape, in.at(n).shape());
  return static_cast<double>(shape_numel(shape));
}

}  // namespace

OpDef binary_op_def(BinaryOp op) {
  OpDef def;
  def.name = binary_op_name(op);
  def.implementations = element_map_variants().implementations();
  def.run = [op](const TensorMap& in, const Attrs&, Device device, Impl impl, bool backward) {
    const char* name = binary_op_name(op);
    const Tensor a = input_on(name, in, "a", device), b = input_on(name, in, "b", device);
    TensorMap results;
    Tensor out = binary_forward(op, a, b, impl);
    put_result(results, "out", out);
    if (backward) {
      BinaryGrads g = binary_backward(op, upstream_gradient(in, out, device), a, b, impl);
      put_result(results, "da", g.da);
      put_result(results, "db", g.db);
    }
    return results;
  };
  def.make_timed = [op](TensorMap& ws, const Attrs&, Impl impl, bool backward) -> std::function<void()> {
    const Tensor &a = ws.at("a"), &b = ws.at("b");
    if (!backward) return [op, &a, &b, impl] { binary_forward(op, a, b, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, binary_forward(op, a, b, impl));
    return [op, &dout, &a, &b, impl] { binary_backward(op, dout, a, b, impl); };
  };
  // One operation per output element; reads of both inputs and a write (backward:
  // dout and the inputs read, both gradients written).
  def.flops = [](const TensorMap& in, const Attrs&) { return broadcast_numel(in, {"a", "b"}); };
  def.bytes = [](const TensorMap& in, const Attrs&) {
    return 4.0 * (numel_of(in, "a") + numel_of(in, "b") + broadcast_numel(in, {"a", "b"}));
  };
  def.backward_flops = def.flops;
  def.backward_bytes = [](const TensorMap& in, const Attrs&) {
    return 4.0 * (2 * numel_of(in, "a") + 2 * numel_of(in, "b") + broadcast_numel(in, {"a", "b"}));
  };
  const K divisor = op == BinaryOp::Div ? K::Positive : K::Normal;
  def.cases = {
      {"same_shape_odd", {{"a", {3, 5, 7}}, {"b", {3, 5, 7}, divisor}}, {}},
      {"scalar", {{"a", {5, 7}}, {"b", {1}, divisor}}, {}},
      {"scalar_first", {{"a", {}}, {"b", {4, 3}, divisor}}, {}},
      {"bias_last_dim", {{"a", {128, 100}}, {"b", {100}, divisor}}, {}},
      {"column", {{"a", {37, 13}}, {"b", {37, 1}, divisor}}, {}},
      {"both_broadcast", {{"a", {7, 1, 5}}, {"b", {6, 1}, divisor}}, {}},
      {"rank6", {{"a", {2, 1, 3, 1, 2, 3}}, {"b", {1, 2, 1, 2, 1, 3}, divisor}}, {}},
      {"per_channel", {{"a", {50, 32, 32, 32}}, {"b", {1, 32, 1, 1}, divisor}}, {}},
      {"large", {{"a", {16, 1 << 20}}, {"b", {16, 1 << 20}, divisor}}, {}, true},
  };
  return def;
}

OpDef unary_op_def(UnaryOp op) {
  OpDef def;
  def.name = unary_op_name(op);
  def.implementations = element_map_variants().implementations();
  def.run = [op](const TensorMap& in, const Attrs&, Device device, Impl impl, bool backward) {
    const Tensor x = input_on(unary_op_name(op), in, "x", device);
    TensorMap results;
    Tensor out = unary_forward(op, x, impl);
    put_result(results, "out", out);
    if (backward)
      put_result(results, "dx",
                 unary_backward(op, upstream_gradient(in, out, device), unary_backward_uses_output(op) ? out : x, impl));
    return results;
  };
  def.make_timed = [op](TensorMap& ws, const Attrs&, Impl impl, bool backward) -> std::function<void()> {
    const Tensor& x = ws.at("x");
    if (!backward) return [op, &x, impl] { unary_forward(op, x, impl); };
    Tensor out = unary_forward(op, x, impl);
    const Tensor& dout = timed_upstream_gradient(ws, out);
    const Tensor& saved = unary_backward_uses_output(op) ? ws.insert_or_assign("out", std::move(out)).first->second : x;
    return [op, &dout, &saved, impl] { unary_backward(op, dout, saved, impl); };
  };
  def.flops = [](const TensorMap& in, const Attrs&) { return numel_of(in, "x"); };
  def.bytes = [](const TensorMap& in, const Attrs&) { return 8.0 * numel_of(in, "x"); };
  def.backward_flops = def.flops;
  def.backward_bytes = [](const TensorMap& in, const Attrs&) { return 12.0 * numel_of(in, "x"); };
  const K kind = op == UnaryOp::Log || op == UnaryOp::Sqrt ? K::Positive : K::Normal;
  def.cases = {
      {"vector_odd", {{"x", {37}, kind}}, {}},
      {"odd_3d", {{"x", {3, 5, 7}, kind}}, {}},
      {"mlp_hidden", {{"x", {128, 100}, kind}}, {}},
      {"conv_activations", {{"x", {50, 32, 32, 32}, kind}}, {}},
      {"large", {{"x", {16, 1 << 20}, kind}}, {}, true},
  };
  return def;
}

OpDef scale_shift_op_def() {
  OpDef def;
  def.name = "scale_shift";
  def.implementations = element_map_variants().implementations();
  auto scalars = [](const Attrs& attrs) {
    return std::pair{static_cast<float>(attrs.get_float("scale_shift", "scale")),
                     static_cast<float>(attrs.get_float("scale_shift", "shift"))};
  };
  def.run = [scalars](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const auto parsed = scalars(attrs);  // not a structured binding: clang 14 cannot capture one
    const auto scale = std::get<0>(parsed), shift = std::get<1>(parsed);
    const Tensor x = input_on("scale_shift", in, "x", device);
    TensorMap results;
    Tensor out = scale_shift_forward(x, scale, shift, impl);
    put_result(results, "out", out);
    if (backward) put_result(results, "dx", scale_shift_backward(upstream_gradient(in, out, device), scale, impl));
    return results;
  };
  def.make_timed = [scalars](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const auto parsed = scalars(attrs);  // not a structured binding: clang 14 cannot capture one
    const auto scale = std::get<0>(parsed), shift = std::get<1>(parsed);
    const Tensor& x = ws.at("x");
    if (!backward) return [&x, scale, shift, impl] { scale_shift_forward(x, scale, shift, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, scale_shift_forward(x, scale, shift, impl));
    return [&dout, scale, impl] { scale_shift_backward(dout, scale, impl); };
  };
  def.flops = [](const TensorMap& in, const Attrs&) { return 2.0 * numel_of(in, "x"); };
  def.bytes = [](const TensorMap& in, const Attrs&) { return 8.0 * numel_of(in, "x"); };
  def.backward_flops = [](const TensorMap& in, const Attrs&) { return numel_of(in, "x"); };
  def.backward_bytes = def.bytes;
  const Attrs attrs = {{"scale", "-1.5"}, {"shift", "0.25"}};
  def.cases = {
      {"odd_3d", {{"x", {3, 5, 7}}}, attrs},
      {"mlp_hidden", {{"x", {128, 100}}}, attrs},
      {"large", {{"x", {16, 1 << 20}}}, attrs, true},
  };
  return def;
}

OpDef where_op_def() {
  OpDef def;
  def.name = "where";
  def.implementations = element_map_variants().implementations();
  def.run = [](const TensorMap& in, const Attrs&, Device device, Impl impl, bool backward) {
    const Tensor cond = input_on("where", in, "cond", device), a = input_on("where", in, "a", device),
                 b = input_on("where", in, "b", device);
    TensorMap results;
    Tensor out = where_forward(cond, a, b, impl);
    put_result(results, "out", out);
    if (backward) {
      WhereGrads g = where_backward(upstream_gradient(in, out, device), cond, a.shape(), b.shape(), impl);
      put_result(results, "da", g.da);
      put_result(results, "db", g.db);
    }
    return results;
  };
  def.make_timed = [](TensorMap& ws, const Attrs&, Impl impl, bool backward) -> std::function<void()> {
    const Tensor &cond = ws.at("cond"), &a = ws.at("a"), &b = ws.at("b");
    if (!backward) return [&cond, &a, &b, impl] { where_forward(cond, a, b, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, where_forward(cond, a, b, impl));
    return [&dout, &cond, &a, &b, impl] { where_backward(dout, cond, a.shape(), b.shape(), impl); };
  };
  def.flops = [](const TensorMap& in, const Attrs&) { return broadcast_numel(in, {"cond", "a", "b"}); };
  def.bytes = [](const TensorMap& in, const Attrs&) {
    return 4.0 * (numel_of(in, "cond") + numel_of(in, "a") + numel_of(in, "b") + broadcast_numel(in, {"cond", "a", "b"}));
  };
  def.backward_flops = def.flops;
  def.backward_bytes = [](const TensorMap& in, const Attrs&) {
    return 4.0 * (numel_of(in, "cond") + numel_of(in, "a") + numel_of(in, "b") +
                  2 * broadcast_numel(in, {"cond", "a", "b"}));
  };
  def.cases = {
      {"same_shape_odd", {{"cond", {3, 5, 7}, K::Mask}, {"a", {3, 5, 7}}, {"b", {3, 5, 7}}}, {}},
      {"scalar_fill", {{"cond", {5, 7}, K::Mask}, {"a", {5, 7}}, {"b", {1}}}, {}},
      {"row_mask", {{"cond", {1, 13}, K::Mask}, {"a", {37, 13}}, {"b", {37, 1}}}, {}},
      {"attention_mask", {{"cond", {16, 16}, K::Mask}, {"a", {8, 4, 16, 16}}, {"b", {}}}, {}},
      {"large", {{"cond", {16, 1 << 20}, K::Mask}, {"a", {16, 1 << 20}}, {"b", {16, 1 << 20}}}, {}, true},
  };
  return def;
}

OpDef masked_fill_op_def() {
  OpDef def;
  def.name = "masked_fill";
  def.implementations = element_map_variants().implementations();
  auto value_of = [](const Attrs& attrs) { return static_cast<float>(attrs.get_float("masked_fill", "value")); };
  def.run = [value_of](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const Tensor x = input_on("masked_fill", in, "x", device), mask = input_on("masked_fill", in, "mask", device);
    TensorMap results;
    Tensor out = masked_fill_forward(x, mask, value_of(attrs), impl);
    put_result(results, "out", out);
    if (backward) put_result(results, "dx", masked_fill_backward(upstream_gradient(in, out, device), mask, x.shape(), impl));
    return results;
  };
  def.make_timed = [value_of](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const float value = value_of(attrs);
    const Tensor &x = ws.at("x"), &mask = ws.at("mask");
    if (!backward) return [&x, &mask, value, impl] { masked_fill_forward(x, mask, value, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, masked_fill_forward(x, mask, value, impl));
    return [&dout, &mask, &x, impl] { masked_fill_backward(dout, mask, x.shape(), impl); };
  };
  def.flops = [](const TensorMap& in, const Attrs&) { return broadcast_numel(in, {"x", "mask"}); };
  def.bytes = [](const TensorMap& in, const Attrs&) {
    return 4.0 * (numel_of(in, "x") + numel_of(in, "mask") + broadcast_numel(in, {"x", "mask"}));
  };
  def.backward_flops = def.flops;
  def.backward_bytes = [](const TensorMap& in, const Attrs&) {
    return 4.0 * (numel_of(in, "mask") + numel_of(in, "x") + broadcast_numel(in, {"x", "mask"}));
  };
  const Attrs fill = {{"value", "-2.5"}};
  def.cases = {
      {"same_shape_odd", {{"x", {3, 5, 7}}, {"mask", {3, 5, 7}, K::Mask}}, fill},
      {"causal_scores", {{"x", {8, 4, 16, 16}}, {"mask", {16, 16}, K::Mask}}, fill},
      {"mask_wider_than_x", {{"x", {5, 1}}, {"mask", {5, 6}, K::Mask}}, {{"value", "0.5"}}},
      {"large", {{"x", {16, 1 << 20}}, {"mask", {1, 1 << 20}, K::Mask}}, fill, true},
  };
  return def;
}

}  // namespace cudl
