// Optimizer updates: argument checks, dispatch, and the registry entries (sgd,
// sgd_momentum, rmsprop, adam, adamw).
#include "kernels/optimizer_update.h"

#include <bit>
#include <cmath>

#include "core/check.h"
#include "kernels/cpu/optimizer_update.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/optimizer_update.h"
#endif

namespace cudl {

namespace {
void check_finite_hyper(const char* op, const char* name, float value) {
  CUDL_CHECK(std::isfinite(value), op, ": expected a finite ", name, ", got ", value);
}

float* data_or_null(Tensor* t) { return t ? t->data<float>() : nullptr; }

// One update variant: runs `Rule` over `params` (all on `device`), in double
// (`exact`, the naive references) or float (`fast`, the fused paths).
template <template <typename> class Rule>
using UpdateKernel = void (*)(int device, const std::vector<ParamUpdate>& params, const Rule<double>& exact,
                              const Rule<float>& fast);

template <template <typename> class Rule>
void update_cpu_naive(int, const std::vector<ParamUpdate>& params, const Rule<double>& exact, const Rule<float>&) {
  for (const ParamUpdate& p : params)
    cpu::optimizer_update_naive<Rule>(exact, p.w->data<float>(), p.dw->data<float>(), data_or_null(p.state0),
                                      data_or_null(p.state1), p.w->numel());
}

template <template <typename> class Rule>
void update_cpu_fused(int, const std::vector<ParamUpdate>& params, const Rule<double>&, const Rule<float>& fast) {
  for (const ParamUpdate& p : params)
    cpu::optimizer_update_fused<Rule>(fast, p.w->data<float>(), p.dw->data<float>(), data_or_null(p.state0),
                                      data_or_null(p.state1), p.w->numel());
}

#if CUDL_WITH_CUDA
cuda::UpdateArrays update_arrays(const ParamUpdate& p) {
  return {p.w->data<float>(), p.dw->data<float>(), data_or_null(p.state0), data_or_null(p.state1), p.w->numel()};
}

template <template <typename> class Rule>
void update_cuda_naive(int device, const std::vector<ParamUpdate>& params, const Rule<double>& exact,
                       const Rule<float>&) {
  for (const ParamUpdate& p : params) cuda::optimizer_update_naive<Rule>(device, exact, update_arrays(p));
}

template <template <typename> class Rule>
void update_cuda_fused(int device, const std::vector<ParamUpdate>& params, const Rule<double>&,
                       const Rule<float>& fast) {
  // Big parameters fill the GPU on their own; the small ones share launches.
  constexpr std::int64_t kOwnLaunch = 1 << 20;
  std::vector<cuda::UpdateArrays> small;
  for (const ParamUpdate& p : params) {
    const cuda::UpdateArrays arrays = update_arrays(p);
    if (arrays.n >= kOwnLaunch || params.size() == 1)
      cuda::optimizer_update_fused<Rule>(device, fast, arrays);
    else
      small.push_back(arrays);
  }
  if (!small.empty()) cuda::optimizer_update_multi<Rule>(device, fast, small);
}
#endif

template <template <typename> class Rule>
const VariantTable<UpdateKernel<Rule>>& update_variants() {
  static const VariantTable<UpdateKernel<Rule>> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, update_cpu_fused<Rule>},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, update_cpu_naive<Rule>},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, update_cuda_fused<Rule>},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, update_cuda_naive<Rule>},
#endif
  }};
  return table;
}

// Runs `Rule` over `params` on the variant asked for. `make(T{})` builds the
// rule in precision T. Every entry was checked by the caller; all are on one device.
template <template <typename> class Rule, class Make>
void dispatch_update(const char* op, Impl impl, const std::vector<ParamUpdate>& params, Make make) {
  if (params.empty()) return;
  const Device device = params.front().w->device();
  update_variants<Rule>().select(op, device, impl)(device.index, params, make(double{}), make(float{}));
}

// Every entry: w, dw and the rule's state tensors (named as in the rule), all
// float32 of one shape; all entries on one device.
void check_multi(const char* op, const std::vector<ParamUpdate>& params, std::initializer_list<const char*> states) {
  for (const ParamUpdate& p : params) {
    CUDL_CHECK(p.w && p.dw, op, ": a parameter entry has no w or dw");
    CUDL_CHECK((states.size() >= 1) == (p.state0 != nullptr) && (states.size() >= 2) == (p.state1 != nullptr), op,
               ": expected ", states.size(), " state tensors per parameter");
    check_float(op, "w", *p.w);
    check_float(op, "dw", *p.dw);
    check_shape(op, "dw", *p.dw, p.w->shape());
    check_same_device(op, {{"w", params.front().w}, {"w", p.w}, {"dw", p.dw}});
    const Tensor* state[2] = {p.state0, p.state1};
    std::size_t k = 0;
    for (const char* name : states) {
      const Tensor* s = state[k++];
      check_float(op, name, *s);
      check_shape(op, name, *s, p.w->shape());
      check_same_device(op, {{"w", p.w}, {name, s}});
    }
  }
}
}  // namespace

void sgd_update_multi(const std::vector<ParamUpdate>& params, float lr, Impl impl) {
  check_multi("sgd", params, {});
  check_finite_hyper("sgd", "lr", lr);
  dispatch_update<rules::Sgd>("sgd", impl, params, [&](auto t) { return rules::Sgd<decltype(t)>{decltype(t)(lr)}; });
}

void sgd_momentum_update_multi(const std::vector<ParamUpdate>& params, float lr, float momentum, Impl impl) {
  check_multi("sgd_momentum", params, {"velocity"});
  check_finite_hyper("sgd_momentum", "lr", lr);
  CUDL_CHECK(momentum >= 0.0f && momentum < 1.0f, "sgd_momentum: expected momentum in [0, 1), got ", momentum);
  dispatch_update<rules::SgdMomentum>("sgd_momentum", impl, params, [&](auto t) {
    using T = decltype(t);
    return rules::SgdMomentum<T>{T(lr), T(momentum)};
  });
}

void rmsprop_update_multi(const std::vector<ParamUpdate>& params, float lr, float decay_rate, float eps, Impl impl) {
  check_multi("rmsprop", params, {"cache"});
  check_finite_hyper("rmsprop", "lr", lr);
  CUDL_CHECK(decay_rate >= 0.0f && decay_rate < 1.0f, "rmsprop: expected decay_rate in [0, 1), got ", decay_rate);
  CUDL_CHECK(eps > 0.0f, "rmsprop: expected eps > 0, got ", eps);
  dispatch_update<rules::RmsProp>("rmsprop", impl, params, [&](auto t) {
    using T = decltype(t);
    return rules::RmsProp<T>{T(lr), T(decay_rate), T(eps)};
  });
}

void adam_update_multi(const std::vector<ParamUpdate>& params, float lr, float beta1, float beta2, float eps,
                       std::int64_t step, float weight_decay, Impl impl) {
  const char* op = weight_decay > 0.0f ? "adamw" : "adam";
  check_multi(op, params, {"m", "v"});
  check_finite_hyper(op, "lr", lr);
  CUDL_CHECK(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f, op,
             ": expected beta1 and beta2 in [0, 1), got ", beta1, " and ", beta2);
  CUDL_CHECK(eps > 0.0f, op, ": expected eps > 0, got ", eps);
  CUDL_CHECK(step >= 1, op, ": expected the 1-based step index >= 1, got ", step);
  CUDL_CHECK(weight_decay >= 0.0f, op, ": expected weight_decay >= 0, got ", weight_decay);
  dispatch_update<rules::Adam>(op, impl, params, [&](auto t) {
    return rules::Adam<decltype(t)>::make(lr, beta1, beta2, eps, step, weight_decay);
  });
}

// The single-tensor updates are lists of one.
void sgd_update(Tensor& w, const Tensor& dw, float lr, Impl impl) { sgd_update_multi({{&w, &dw}}, lr, impl); }

void sgd_momentum_update(Tensor& w, const Tensor& dw, Tensor& velocity, float lr, float momentum, Impl impl) {
  sgd_momentum_update_multi({{&w, &dw, &velocity}}, lr, momentum, impl);
}

void rmsprop_update(Tensor& w, const Tensor& dw, Tensor& cache, float lr, float decay_rate, float eps, Impl impl) {
  rmsprop_update_multi({{&w, &dw, &cache}}, lr, decay_rate, eps, impl);
}

void adam_update(Tensor& w, const Tensor& dw, Tensor& m, Tensor& v, float lr, float beta1, float beta2, float eps,
                 std::int64_t step, float weight_decay, Impl impl) {
  adam_update_multi({{&w, &dw, &m, &v}}, lr, beta1, beta2, eps, step, weight_decay, impl);
}

namespace {
// Gradient clipping's two passes. CUDA has one kernel for each (a single
// bandwidth-bound pass with nothing to simplify), listed under both kinds so
// that a whole model can run naive or fast.
using SumOfSquaresKernel = double (*)(const std::vector<const Tensor*>& tensors);
using ScaleKernel = void (*)(Tensor& x, float scale);

template <auto cpu_kernel>
double sum_of_squares_cpu(const std::vector<const Tensor*>& tensors) {
  double sum = 0.0;
  for (const Tensor* t : tensors) sum += cpu_kernel(t->data<float>(), t->numel());
  return sum;
}

#if CUDL_WITH_CUDA
double sum_of_squares_cuda(const std::vector<const Tensor*>& tensors) {
  // The sum is one double; Tensor has no float64, so 8 bytes as int64.
  const Device device = tensors.front()->device();
  Tensor sum = Tensor::empty({1}, DType::I64, device);
  std::vector<cuda::FloatSpan> arrays;
  for (const Tensor* t : tensors) arrays.push_back({t->data<float>(), t->numel()});
  cuda::sum_of_squares(device.index, arrays, reinterpret_cast<double*>(sum.data<std::int64_t>()));
  return std::bit_cast<double>(sum.to_vector_i64().front());
}
#endif

const VariantTable<SumOfSquaresKernel>& sum_of_squares_variants() {
  static const VariantTable<SumOfSquaresKernel> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, sum_of_squares_cpu<cpu::sum_of_squares_parallel>},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, sum_of_squares_cpu<cpu::sum_of_squares_naive>},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, sum_of_squares_cuda},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, sum_of_squares_cuda},
#endif
  }};
  return table;
}

#if CUDL_WITH_CUDA
void scale_cuda(Tensor& x, float scale) { cuda::scale(x.device().index, x.data<float>(), x.numel(), scale); }
#endif

const VariantTable<ScaleKernel>& scale_variants() {
  static const VariantTable<ScaleKernel> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast,
       [](Tensor& x, float scale) { cpu::scale_parallel(x.data<float>(), x.numel(), scale); }},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive,
       [](Tensor& x, float scale) { cpu::scale_naive(x.data<float>(), x.numel(), scale); }},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, scale_cuda},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, scale_cuda},
#endif
  }};
  return table;
}
}  // namespace

double sum_of_squares(const std::vector<const Tensor*>& tensors, Impl impl) {
  if (tensors.empty()) return 0.0;
  const Device device = tensors.front()->device();
  for (const Tensor* t : tensors) {
    check_float("sum_of_squares", "tensor", *t);
    CUDL_CHECK(t->device() == device, "sum_of_squares: expected all tensors on ", device.str(), ", got ", t->str());
  }
  return sum_of_squares_variants().select("sum_of_squares", device, impl)(tensors);
}

void scale_inplace(Tensor& x, float scale, Impl impl) {
  check_float("scale_inplace", "x", x);
  scale_variants().select("scale_inplace", x.device(), impl)(x, scale);
}

// ---- registry entries ----
namespace {
using K = InputSpec::Kind;

// Cases shared by every rule: `states` are the rule's state inputs.
std::vector<OpCase> update_cases(const std::vector<std::pair<std::string, K>>& states, const Attrs& attrs) {
  auto specs = [&](const Shape& shape) {
    std::vector<InputSpec> in = {{"w", shape, K::Normal}, {"dw", shape, K::Normal}};
    for (const auto& [name, kind] : states) in.push_back({name, shape, kind});
    return in;
  };
  return {{"small", specs({4, 5}), attrs},
          {"odd_tail", specs({7, 13}), attrs},  // 91 elements: float4 body plus a 3-element tail
          {"conv_weight", specs({32, 3, 7, 7}), attrs},
          {"fc_weight", specs({100, 3136}), attrs},
          {"large_16m", specs({4096, 4096}), attrs, true}};
}

// Reads w + dw + states, one pass writing w + states.
double update_bytes(const TensorMap& in, std::size_t states) { return 4.0 * in.at("w").numel() * (3 + 2 * states); }

template <template <typename> class Rule>
OpDef update_op_def(const std::string& name, std::vector<std::pair<std::string, K>> states, Attrs attrs,
                    double flops_per_element,
                    std::function<void(TensorMap&, const Attrs&, Impl)> apply) {
  OpDef def;
  def.name = name;
  def.implementations = update_variants<Rule>().implementations();
  std::vector<std::string> state_names;
  for (const auto& s : states) state_names.push_back(s.first);
  def.run = [name, state_names, apply](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool) {
    TensorMap t;
    t.emplace("w", input_on(name.c_str(), in, "w", device));
    t.emplace("dw", input_on(name.c_str(), in, "dw", device));
    for (const auto& s : state_names) t.emplace(s, input_on(name.c_str(), in, s, device));
    apply(t, attrs, impl);
    TensorMap results;
    put_result(results, "out", t.at("w"));
    for (const auto& s : state_names) put_result(results, "out_" + s, t.at(s));
    return results;
  };
  def.has_backward = false;
  // Timed in place: every call takes one more step on the workspace's w and states.
  def.make_timed = [apply](TensorMap& ws, const Attrs& attrs, Impl impl, bool) -> std::function<void()> {
    return [apply, &ws, attrs, impl] { apply(ws, attrs, impl); };
  };
  def.flops = [flops_per_element](const TensorMap& in, const Attrs&) { return flops_per_element * in.at("w").numel(); };
  const std::size_t state_count = states.size();
  def.bytes = [state_count](const TensorMap& in, const Attrs&) { return update_bytes(in, state_count); };
  def.cases = update_cases(states, attrs);
  return def;
}

float attr(const char* op, const Attrs& attrs, const char* key) { return static_cast<float>(attrs.get_float(op, key)); }

OpDef adam_family_op_def(const char* op, bool decoupled_decay) {
  Attrs attrs{{"lr", "0.001"}, {"beta1", "0.9"}, {"beta2", "0.999"}, {"eps", "1e-08"}, {"t", "5"}};
  if (decoupled_decay) attrs.set("weight_decay", "0.01");
  return update_op_def<rules::Adam>(op, {{"m", K::Normal}, {"v", K::Positive}}, attrs, 12.0,
                       [op, decoupled_decay](TensorMap& t, const Attrs& a, Impl impl) {
                         // Golden files give t = steps taken before this one.
                         adam_update(t.at("w"), t.at("dw"), t.at("m"), t.at("v"), attr(op, a, "lr"),
                                     attr(op, a, "beta1"), attr(op, a, "beta2"), attr(op, a, "eps"),
                                     a.get_int(op, "t") + 1, decoupled_decay ? attr(op, a, "weight_decay") : 0.0f,
                                     impl);
                       });
}
}  // namespace

OpDef sgd_op_def() {
  return update_op_def<rules::Sgd>("sgd", {}, {{"lr", "0.01"}}, 2.0, [](TensorMap& t, const Attrs& a, Impl impl) {
    sgd_update(t.at("w"), t.at("dw"), attr("sgd", a, "lr"), impl);
  });
}

OpDef sgd_momentum_op_def() {
  return update_op_def<rules::SgdMomentum>("sgd_momentum", {{"velocity", K::Normal}}, {{"lr", "0.01"}, {"momentum", "0.9"}}, 4.0,
                       [](TensorMap& t, const Attrs& a, Impl impl) {
                         sgd_momentum_update(t.at("w"), t.at("dw"), t.at("velocity"), attr("sgd_momentum", a, "lr"),
                                             attr("sgd_momentum", a, "momentum"), impl);
                       });
}

OpDef rmsprop_op_def() {
  return update_op_def<rules::RmsProp>("rmsprop", {{"cache", K::Positive}}, {{"lr", "0.01"}, {"decay_rate", "0.99"}, {"eps", "1e-08"}},
                       7.0, [](TensorMap& t, const Attrs& a, Impl impl) {
                         rmsprop_update(t.at("w"), t.at("dw"), t.at("cache"), attr("rmsprop", a, "lr"),
                                        attr("rmsprop", a, "decay_rate"), attr("rmsprop", a, "eps"), impl);
                       });
}

OpDef adam_op_def() { return adam_family_op_def("adam", false); }
OpDef adamw_op_def() { return adam_family_op_def("adamw", true); }

}  // namespace cudl
