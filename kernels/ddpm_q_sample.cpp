// ddpm_q_sample and scale_per_timestep: argument checks, timestep validation,
// dispatch, and the registry entry. Both are one kernel, a per-timestep
// combination a[t_n] x[n] (+ b[t_n] y[n]).
#include "kernels/ddpm_q_sample.h"

#include <memory>

#include "core/check.h"
#include "diffusion/schedule.h"
#include "kernels/cpu/ddpm_q_sample.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/ddpm_q_sample.h"
#endif

namespace cudl {

namespace {
constexpr const char* kOp = "ddpm_q_sample";

void check_table(const char* op, const char* name, const Tensor& table, const Tensor& x) {
  check_float(op, name, table);
  check_ndim(op, name, table, 1);
  CUDL_CHECK(table.numel() > 0, op, ": expected a non-empty ", name, " table [T], got ", table.str());
  check_same_device(op, {{"x", &x}, {name, &table}});
}

void check_timesteps(const char* op, const Tensor& t, const Tensor& x) {
  check_dtype(op, "t", t, DType::I64);
  check_shape(op, "t", t, {x.size(0)});
  check_same_device(op, {{"x", &x}, {"t", &t}});
}

[[noreturn]] void throw_bad_step(const char* op, std::int64_t sample, std::int64_t step, std::int64_t steps) {
  detail::throw_error(op, ": timestep ", step, " of sample ", sample, " is outside [0, ", steps, ")");
}

// Returns the first sample whose device timestep is out of range, or -1 (the
// CPU kernels run after the host check and cannot find one).
using PerTimestepCombine = std::int64_t (*)(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a,
                                            const Tensor* b, Tensor& out);

template <auto cpu_kernel>
std::int64_t checked_on_host(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a, const Tensor* b,
                             Tensor& out) {
  cpu_kernel(x, y, t, a, b, out);
  return -1;
}

const VariantTable<PerTimestepCombine>& per_timestep_combine_variants() {
  static const VariantTable<PerTimestepCombine> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, checked_on_host<cpu::per_timestep_combine_rows>},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, checked_on_host<cpu::per_timestep_combine_naive>},
#if CUDL_WITH_CUDA
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, cuda::per_timestep_combine_rows},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, cuda::per_timestep_combine_naive},
#endif
  }};
  return table;
}

// out[n] = a[t_n] x[n] + b[t_n] y[n] (y, b null: the first term only); the caller has checked shapes.
Tensor combine(const char* op, const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a, const Tensor* b,
               Impl impl) {
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  const PerTimestepCombine combine_kernel = per_timestep_combine_variants().select(op, x.device(), impl);
  if (x.numel() == 0) return out;
  if (x.device().is_cpu()) {  // host timesteps are checked before the kernels run; device ones by the kernels
    const std::int64_t* steps = t.data<std::int64_t>();
    for (std::int64_t s = 0; s < t.numel(); ++s)
      if (steps[s] < 0 || steps[s] >= a.numel()) throw_bad_step(op, s, steps[s], a.numel());
  }
  const std::int64_t bad = combine_kernel(x, y, t, a, b, out);
  if (bad >= 0) throw_bad_step(op, bad, t.slice(bad, bad + 1).to_vector_i64()[0], a.numel());
  return out;
}

void check_q_sample_tables(const Tensor& x, const Tensor& x0_scale, const Tensor& noise_scale) {
  check_table(kOp, "x0_scale", x0_scale, x);
  check_table(kOp, "noise_scale", noise_scale, x);
  CUDL_CHECK(x0_scale.numel() == noise_scale.numel(), kOp, ": expected x0_scale and noise_scale of one length T, got ",
             x0_scale.str(), " and ", noise_scale.str());
}

void check_samples(const char* op, const char* name, const Tensor& x) {
  check_float(op, name, x);
  CUDL_CHECK(x.dim() >= 1, op, ": expected ", name, " [N, ...], got ", x.str());
}
}  // namespace

Tensor ddpm_q_sample_forward(const Tensor& x0, const Tensor& noise, const Tensor& t, const Tensor& x0_scale,
                             const Tensor& noise_scale, Impl impl) {
  check_samples(kOp, "x0", x0);
  check_float(kOp, "noise", noise);
  check_shape(kOp, "noise", noise, x0.shape());
  check_same_device(kOp, {{"x0", &x0}, {"noise", &noise}});
  check_timesteps(kOp, t, x0);
  check_q_sample_tables(x0, x0_scale, noise_scale);
  return combine(kOp, x0, &noise, t, x0_scale, &noise_scale, impl);
}

DdpmQSampleGrads ddpm_q_sample_backward(const Tensor& dout, const Tensor& t, const Tensor& x0_scale,
                                        const Tensor& noise_scale, Impl impl) {
  check_samples(kOp, "dout", dout);
  check_timesteps(kOp, t, dout);
  check_q_sample_tables(dout, x0_scale, noise_scale);
  return {combine(kOp, dout, nullptr, t, x0_scale, nullptr, impl),
          combine(kOp, dout, nullptr, t, noise_scale, nullptr, impl)};
}

Tensor scale_per_timestep(const Tensor& x, const Tensor& t, const Tensor& scale, Impl impl) {
  constexpr const char* op = "scale_per_timestep";
  check_samples(op, "x", x);
  check_timesteps(op, t, x);
  check_table(op, "scale", scale, x);
  return combine(op, x, nullptr, t, scale, nullptr, impl);
}

OpDef ddpm_q_sample_op_def() {
  OpDef def;
  def.name = kOp;
  def.implementations = per_timestep_combine_variants().implementations();
  // The schedule's two tables on `device`, from the attributes schedule and timesteps.
  struct Tables {
    Tensor x0_scale, noise_scale;
  };
  auto tables = [](const Attrs& attrs, Device device) {
    const DiffusionTables d =
        diffusion_tables(parse_noise_schedule(attrs.get_string(kOp, "schedule")), attrs.get_int(kOp, "timesteps"));
    return Tables{table_tensor(d.sqrt_alphas_cumprod, device), table_tensor(d.sqrt_one_minus_alphas_cumprod, device)};
  };
  def.run = [tables](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const Tables s = tables(attrs, device);
    Tensor t = input_on(kOp, in, "t", device);
    Tensor out = ddpm_q_sample_forward(input_on(kOp, in, "x0", device), input_on(kOp, in, "noise", device), t,
                                       s.x0_scale, s.noise_scale, impl);
    TensorMap results;
    put_result(results, "out", out);
    if (backward) {
      DdpmQSampleGrads d = ddpm_q_sample_backward(upstream_gradient(in, out, device), t, s.x0_scale, s.noise_scale, impl);
      put_result(results, "dx0", d.dx0);
      put_result(results, "dnoise", d.dnoise);
    }
    return results;
  };
  def.make_timed = [tables](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    auto s = std::make_shared<Tables>(tables(attrs, ws.at("x0").device()));
    const Tensor &x0 = ws.at("x0"), &noise = ws.at("noise"), &t = ws.at("t");
    if (!backward) return [s, &x0, &noise, &t, impl] { ddpm_q_sample_forward(x0, noise, t, s->x0_scale, s->noise_scale, impl); };
    const Tensor& dout =
        timed_upstream_gradient(ws, ddpm_q_sample_forward(x0, noise, t, s->x0_scale, s->noise_scale, impl));
    return [s, &dout, &t, impl] { ddpm_q_sample_backward(dout, t, s->x0_scale, s->noise_scale, impl); };
  };
  def.flops = [](const TensorMap& in, const Attrs&) { return 3.0 * static_cast<double>(in.at("x0").numel()); };
  def.bytes = [](const TensorMap& in, const Attrs&) { return 12.0 * static_cast<double>(in.at("x0").numel()); };
  def.backward_flops = [](const TensorMap& in, const Attrs&) { return 2.0 * static_cast<double>(in.at("x0").numel()); };
  def.backward_bytes = def.bytes;
  using K = InputSpec::Kind;
  auto batch = [](Shape shape, std::int64_t steps) {
    return std::vector<InputSpec>{{"x0", shape, K::Normal}, {"noise", shape, K::Normal}, {"t", {shape[0]}, K::Labels, steps}};
  };
  // Rows of an odd length (no float4 path), a few steps, the notebook's emoji
  // batch (32x32 RGB, T = 100, sigmoid), CIFAR-sized images with 1000 steps.
  def.cases = {
      {"odd_rows", batch({3, 1, 5, 5}, 1000), {{"schedule", "linear"}, {"timesteps", "1000"}}},
      {"few_steps", batch({4, 2, 3, 3}, 50), {{"schedule", "cosine"}, {"timesteps", "50"}}},
      {"cs231n_emoji", batch({256, 3, 32, 32}, 100), {{"schedule", "sigmoid"}, {"timesteps", "100"}}},
      {"cifar_1000", batch({128, 3, 32, 32}, 1000), {{"schedule", "cosine"}, {"timesteps", "1000"}}},
      {"large", batch({512, 3, 128, 128}, 1000), {{"schedule", "linear"}, {"timesteps", "1000"}}, true},
  };
  return def;
}

}  // namespace cudl
