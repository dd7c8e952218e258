#include <algorithm>

#include "core/cuda/grid_stride.h"
#include "kernels/cuda/ddpm_q_sample.h"

namespace cudl::cuda {

namespace {
using Flag = unsigned long long;

// The flag holds max(N - sample) over bad samples (0: none), so it names the first.
__device__ __forceinline__ bool step_ok(long long step, long long steps, long long sample, long long n, Flag* bad) {
  if (step >= 0 && step < steps) return true;
  atomicMax(bad, static_cast<Flag>(n - sample));
  return false;
}

__global__ void combine_naive_kernel(const float* x, const float* y, const std::int64_t* t, const float* a,
                                     const float* b, long long count, long long inner, long long n, long long steps,
                                     float* out, Flag* bad) {
  CUDL_GRID_STRIDE_LOOP(i, count) {
    const long long sample = i / inner, step = t[sample];
    if (!step_ok(step, steps, sample, n, bad)) continue;
    double value = double(a[step]) * x[i];
    if (y) value += double(b[step]) * y[i];
    out[i] = static_cast<float>(value);
  }
}

template <bool TwoTerms> __device__ __forceinline__ float combine(float ca, float x, float cb, float y) {
  return TwoTerms ? ca * x + cb * y : ca * x;
}

// Blocks along x cover a row, rows along y (strided past 65535 samples).
// Vec4: inner % 4 == 0 and every base pointer 16-byte aligned, so every row is.
template <bool TwoTerms, bool Vec4>
__global__ void combine_rows_kernel(const float* __restrict__ x, const float* __restrict__ y,
                                    const std::int64_t* __restrict__ t, const float* __restrict__ a,
                                    const float* __restrict__ b, long long inner, long long n, long long steps,
                                    float* __restrict__ out, Flag* bad) {
  const long long first = blockIdx.x * (long long)blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
  for (long long sample = blockIdx.y; sample < n; sample += gridDim.y) {
    const long long step = t[sample];
    if (!step_ok(step, steps, sample, n, bad)) continue;  // the same branch for the whole block
    const float ca = a[step], cb = TwoTerms ? b[step] : 0.0f;
    const long long base = sample * inner;
    if constexpr (Vec4) {
      const float4* x4 = reinterpret_cast<const float4*>(x + base);
      const float4* y4 = reinterpret_cast<const float4*>(TwoTerms ? y + base : x + base);
      float4* o4 = reinterpret_cast<float4*>(out + base);
      for (long long v = first; v < inner / 4; v += stride) {
        const float4 xv = x4[v], yv = TwoTerms ? y4[v] : xv;
        o4[v] = make_float4(combine<TwoTerms>(ca, xv.x, cb, yv.x), combine<TwoTerms>(ca, xv.y, cb, yv.y),
                            combine<TwoTerms>(ca, xv.z, cb, yv.z), combine<TwoTerms>(ca, xv.w, cb, yv.w));
      }
    } else {
      for (long long i = first; i < inner; i += stride)
        out[base + i] = combine<TwoTerms>(ca, x[base + i], cb, TwoTerms ? y[base + i] : 0.0f);
    }
  }
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

struct Operands {
  const float *x, *y, *a, *b;
  const std::int64_t* t;
  float* out;
};

Operands operands(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a, const Tensor* b, Tensor& out) {
  return {x.data<float>(), y ? y->data<float>() : nullptr, a.data<float>(), b ? b->data<float>() : nullptr,
          t.data<std::int64_t>(), out.data<float>()};
}

// Waits for the flag (an 8-byte copy) once the kernel has run.
std::int64_t first_bad_sample(const Tensor& bad, long long n) {
  const std::int64_t flag = bad.to_vector_i64()[0];
  return flag == 0 ? -1 : n - flag;
}

constexpr int kBlock = 256;
}  // namespace

std::int64_t per_timestep_combine_naive(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a,
                                        const Tensor* b, Tensor& out) {
  const Operands o = operands(x, y, t, a, b, out);
  const long long n = x.size(0), count = x.numel();
  Tensor bad = Tensor::zeros({1}, DType::I64, x.device());
  launch_grid_stride(combine_naive_kernel, count, stream(x.device().index), o.x, o.y, o.t, o.a, o.b, count, count / n,
                     n, a.numel(), o.out, reinterpret_cast<Flag*>(bad.data<std::int64_t>()));
  return first_bad_sample(bad, n);
}

std::int64_t per_timestep_combine_rows(const Tensor& x, const Tensor* y, const Tensor& t, const Tensor& a,
                                       const Tensor* b, Tensor& out) {
  const Operands o = operands(x, y, t, a, b, out);
  const long long n = x.size(0), inner = x.numel() / n, steps = a.numel();
  const bool vec4 = inner % 4 == 0 && aligned16(o.x) && aligned16(o.out) && (!o.y || aligned16(o.y));
  const long long per_row = vec4 ? inner / 4 : inner;
  const dim3 grid(std::min<unsigned>(grid_for(per_row, kBlock), 64u), static_cast<unsigned>(std::min(n, 65535LL)));
  Tensor bad = Tensor::zeros({1}, DType::I64, x.device());
  Flag* flag = reinterpret_cast<Flag*>(bad.data<std::int64_t>());
  cudaStream_t s = stream(x.device().index);
  auto launch = [&](auto kernel) {
    kernel<<<grid, kBlock, 0, s>>>(o.x, o.y, o.t, o.a, o.b, inner, n, steps, o.out, flag);
    CUDL_CUDA_CALL(cudaGetLastError());
  };
  if (o.y)
    vec4 ? launch(combine_rows_kernel<true, true>) : launch(combine_rows_kernel<true, false>);
  else
    vec4 ? launch(combine_rows_kernel<false, true>) : launch(combine_rows_kernel<false, false>);
  return first_bad_sample(bad, n);
}

}  // namespace cudl::cuda
