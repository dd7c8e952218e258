#include "diffusion/reverse_step.h"

#include "core/check.h"
#include "kernels/cpu/parallel.h"
#if CUDL_WITH_CUDA
#include "diffusion/cuda/reverse_step.h"
#endif

namespace cudl {

Tensor reverse_step(const Tensor& x_t, const Tensor& out, const Tensor* out_uncond, float guidance, const Tensor* z,
                    const ReverseStep& step) {
  constexpr const char* op = "reverse_step";
  check_float(op, "x_t", x_t);
  check_shape(op, "out", out, x_t.shape());
  check_same_device(op, {{"x_t", &x_t}, {"out", &out}});
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"out_uncond", out_uncond}, {"z", z}}) {
    if (t == nullptr) continue;
    check_shape(op, name, *t, x_t.shape());
    check_same_device(op, {{"x_t", &x_t}, {name, t}});
  }
  CUDL_CHECK(z != nullptr || step.noise_scale == 0.0, op, ": a step with noise_scale ", step.noise_scale,
             " needs its noise z");
  Tensor prev = Tensor::empty(x_t.shape(), DType::F32, x_t.device());
  const float* px = x_t.data<float>();
  const float* po = out.data<float>();
  const float* pu = out_uncond ? out_uncond->data<float>() : nullptr;
  const float* pz = z ? z->data<float>() : nullptr;
  float* pp = prev.data<float>();
  const std::int64_t n = x_t.numel();
  if (x_t.is_cuda()) {
#if CUDL_WITH_CUDA
    cuda::reverse_step(x_t.device().index, px, po, pu, guidance, pz, step, pp, n);
#endif
    return prev;
  }
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelMin)
  for (std::int64_t i = 0; i < n; ++i) {
    const double model = pu ? guided_output(po[i], pu[i], guidance) : po[i];
    pp[i] = reverse_step_value(step, px[i], model, pz ? pz[i] : 0.0f);
  }
  return prev;
}

}  // namespace cudl
