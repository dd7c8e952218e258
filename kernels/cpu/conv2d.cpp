#include "kernels/cpu/conv2d.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/conv2d_geometry.h"
#include "kernels/cpu/gemm.h"

namespace cudl::cpu {

using std::int64_t;

// ---- naive: direct loops ----
void conv2d_forward_naive(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), w.shape(), p);
  const float *px = x.data<float>(), *pw = w.data<float>();
  const float* pb = b ? b->data<float>() : nullptr;
  float* po = out.data<float>();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t f = 0; f < g.f; ++f) {
      const int64_t c0 = f / g.fg * g.cg;  // first input channel of f's group
      for (int64_t oh = 0; oh < g.oh; ++oh)
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          double sum = pb ? pb[f] : 0.0;
          for (int64_t cl = 0; cl < g.cg; ++cl)
            for (int64_t i = 0; i < g.kh; ++i) {
              const int64_t ih = oh * g.stride - g.pad + i;
              if (ih < 0 || ih >= g.h) continue;
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t iw = ow * g.stride - g.pad + j;
                if (iw < 0 || iw >= g.w) continue;
                sum += double(px[((n * g.c + c0 + cl) * g.h + ih) * g.w + iw]) *
                       pw[((f * g.cg + cl) * g.kh + i) * g.kw + j];
              }
            }
          po[((n * g.f + f) * g.oh + oh) * g.ow + ow] = static_cast<float>(sum);
        }
    }
}

void conv2d_backward_data_naive(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx) {
  const Conv2dGeometry g = conv2d_geometry(dx.shape(), w.shape(), p);
  const float *pg = dout.data<float>(), *pw = w.data<float>();
  float* pdx = dx.data<float>();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t c = 0; c < g.c; ++c) {
      const int64_t f0 = c / g.cg * g.fg, cl = c % g.cg;
      for (int64_t ih = 0; ih < g.h; ++ih)
        for (int64_t iw = 0; iw < g.w; ++iw) {
          double sum = 0.0;
          for_each_covering_tap(g, ih, iw, [&](int64_t i, int64_t j, int64_t oh, int64_t ow) {
            for (int64_t f = f0; f < f0 + g.fg; ++f)
              sum += double(pg[((n * g.f + f) * g.oh + oh) * g.ow + ow]) * pw[((f * g.cg + cl) * g.kh + i) * g.kw + j];
          });
          pdx[((n * g.c + c) * g.h + ih) * g.w + iw] = static_cast<float>(sum);
        }
    }
}

void conv2d_backward_weight_naive(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), dw.shape(), p);
  const float *pg = dout.data<float>(), *px = x.data<float>();
  float* pdw = dw.data<float>();
  for (int64_t f = 0; f < g.f; ++f) {
    const int64_t c0 = f / g.fg * g.cg;
    for (int64_t cl = 0; cl < g.cg; ++cl)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) {
          double sum = 0.0;
          for (int64_t n = 0; n < g.n; ++n)
            for (int64_t oh = 0; oh < g.oh; ++oh) {
              const int64_t ih = oh * g.stride - g.pad + i;
              if (ih < 0 || ih >= g.h) continue;
              for (int64_t ow = 0; ow < g.ow; ++ow) {
                const int64_t iw = ow * g.stride - g.pad + j;
                if (iw < 0 || iw >= g.w) continue;
                sum += double(pg[((n * g.f + f) * g.oh + oh) * g.ow + ow]) *
                       px[((n * g.c + c0 + cl) * g.h + ih) * g.w + iw];
              }
            }
          pdw[((f * g.cg + cl) * g.kh + i) * g.kw + j] = static_cast<float>(sum);
        }
  }
}

// ---- bias ----
void conv2d_backward_bias(const Tensor& dout, Tensor& db) {
  const int64_t n = dout.size(0), f = dout.size(1), hw = dout.size(2) * dout.size(3);
  const float* pg = dout.data<float>();
  float* pdb = db.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < f; ++k) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const float* plane = pg + (i * f + k) * hw;
      for (int64_t q = 0; q < hw; ++q) sum += plane[q];
    }
    pdb[k] = static_cast<float>(sum);
  }
}

void add_channel_bias(Tensor& out, const Tensor& b) {
  const int64_t planes = out.size(0) * out.size(1), f = out.size(1), hw = out.size(2) * out.size(3);
  const float* pb = b.data<float>();
  float* po = out.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < planes; ++plane)
    for (int64_t q = 0; q < hw; ++q) po[plane * hw + q] += pb[plane % f];
}

// ---- im2col + GEMM ----
namespace {
// The outputs [lo, hi) of a row whose tap j reads inside the image (iw = ow *
// stride - pad + j in [0, w)); the others read padding. Computing the range once
// keeps the copy loops below free of per-pixel branches, so they vectorise:
// im2col and col2im were 40% of a U-Net training step with the branch inside.
struct ValidRange {
  int64_t lo, hi;
};
ValidRange valid_outputs(const Conv2dGeometry& g, int64_t j) {
  const int64_t first = g.pad - j, end = g.w + g.pad - j;  // ow * stride in [first, end)
  const int64_t lo = first <= 0 ? 0 : (first + g.stride - 1) / g.stride;
  const int64_t hi = end <= 0 ? 0 : std::min(g.ow, (end + g.stride - 1) / g.stride);
  return {std::min(lo, hi), hi};
}

// cols [C*KH*KW, OH*OW] of one image: row (c, i, j), column (oh, ow) holds the
// padded input pixel that tap (i, j) of output (oh, ow) reads.
void im2col(const float* x, const Conv2dGeometry& g, float* cols) {
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        float* row = cols + ((c * g.kh + i) * g.kw + j) * g.oh * g.ow;
        const ValidRange r = valid_outputs(g, j);
        for (int64_t oh = 0; oh < g.oh; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + i;
          float* dst = row + oh * g.ow;
          if (ih < 0 || ih >= g.h) {
            std::fill(dst, dst + g.ow, 0.0f);
            continue;
          }
          const float* src = x + (c * g.h + ih) * g.w;
          const int64_t shift = j - g.pad;  // output ow reads pixel ow * stride + shift
          std::fill(dst, dst + r.lo, 0.0f);
          if (g.stride == 1) {
            std::copy(src + r.lo + shift, src + r.hi + shift, dst + r.lo);
          } else {
            for (int64_t ow = r.lo; ow < r.hi; ++ow) dst[ow] = src[ow * g.stride + shift];
          }
          std::fill(dst + r.hi, dst + g.ow, 0.0f);
        }
      }
}

// The adjoint of im2col: dx (one image) = sum of every column entry back onto its pixel.
void col2im(const float* cols, const Conv2dGeometry& g, float* dx) {
  std::fill(dx, dx + g.c * g.h * g.w, 0.0f);
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const float* row = cols + ((c * g.kh + i) * g.kw + j) * g.oh * g.ow;
        const ValidRange r = valid_outputs(g, j);
        for (int64_t oh = 0; oh < g.oh; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + i;
          if (ih < 0 || ih >= g.h) continue;
          float* dst = dx + (c * g.h + ih) * g.w;
          const int64_t shift = j - g.pad;  // output ow read pixel ow * stride + shift
          const float* src = row + oh * g.ow;
          if (g.stride == 1) {
            for (int64_t ow = r.lo; ow < r.hi; ++ow) dst[ow + shift] += src[ow];
          } else {
            for (int64_t ow = r.lo; ow < r.hi; ++ow) dst[ow * g.stride + shift] += src[ow];
          }
        }
      }
}
}  // namespace

// Images are spread over OpenMP threads, each with its own column buffer, so that
// im2col/col2im run in parallel too -- unless the BLAS threads each GEMM itself
// (pthreads OpenBLAS), in which case images go one after another: two threads
// each starting BLAS threads would oversubscribe the cores.
void conv2d_forward_im2col(const Tensor& x, const Tensor& w, const Tensor* b, const Conv2dParams& p, Tensor& out) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), w.shape(), p);
  const int64_t ohw = g.oh * g.ow;
  const float *px = x.data<float>(), *pw = w.data<float>();
  float* po = out.data<float>();
#pragma omp parallel if (!gemm_blas_threads_nest())
  {
    std::vector<float> cols(g.groups * g.col_rows * ohw);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.n; ++n) {
      im2col(px + n * g.c * g.h * g.w, g, cols.data());
      for (int64_t grp = 0; grp < g.groups; ++grp)
        gemm_blas(false, false, g.fg, ohw, g.col_rows, 1.0f, pw + grp * g.fg * g.col_rows, g.col_rows,
                  cols.data() + grp * g.col_rows * ohw, ohw, 0.0f, po + (n * g.f + grp * g.fg) * ohw, ohw);
    }
  }
  if (b) add_channel_bias(out, *b);
}

void conv2d_backward_data_im2col(const Tensor& dout, const Tensor& w, const Conv2dParams& p, Tensor& dx) {
  const Conv2dGeometry g = conv2d_geometry(dx.shape(), w.shape(), p);
  const int64_t ohw = g.oh * g.ow;
  const float *pg = dout.data<float>(), *pw = w.data<float>();
  float* pdx = dx.data<float>();
#pragma omp parallel if (!gemm_blas_threads_nest())
  {
    std::vector<float> dcols(g.groups * g.col_rows * ohw);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.n; ++n) {
      for (int64_t grp = 0; grp < g.groups; ++grp)
        gemm_blas(true, false, g.col_rows, ohw, g.fg, 1.0f, pw + grp * g.fg * g.col_rows, g.col_rows,
                  pg + (n * g.f + grp * g.fg) * ohw, ohw, 0.0f, dcols.data() + grp * g.col_rows * ohw, ohw);
      col2im(dcols.data(), g, pdx + n * g.c * g.h * g.w);
    }
  }
}

void conv2d_backward_weight_im2col(const Tensor& dout, const Tensor& x, const Conv2dParams& p, Tensor& dw) {
  const Conv2dGeometry g = conv2d_geometry(x.shape(), dw.shape(), p);
  const int64_t ohw = g.oh * g.ow, dw_size = g.f * g.col_rows;
  const float *pg = dout.data<float>(), *px = x.data<float>();
  // One partial dw per thread, summed in thread order afterwards so the result
  // does not depend on timing.
  std::vector<std::vector<float>> partial(omp_get_max_threads());
#pragma omp parallel if (!gemm_blas_threads_nest())
  {
    std::vector<float>& mine = partial[omp_get_thread_num()];
    mine.assign(dw_size, 0.0f);
    std::vector<float> cols(g.groups * g.col_rows * ohw);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.n; ++n) {
      im2col(px + n * g.c * g.h * g.w, g, cols.data());
      for (int64_t grp = 0; grp < g.groups; ++grp)
        gemm_blas(false, true, g.fg, g.col_rows, ohw, 1.0f, pg + (n * g.f + grp * g.fg) * ohw, ohw,
                  cols.data() + grp * g.col_rows * ohw, ohw, 1.0f, mine.data() + grp * g.fg * g.col_rows, g.col_rows);
    }
  }
  float* pdw = dw.data<float>();
  std::fill(pdw, pdw + dw_size, 0.0f);
  for (const auto& part : partial)
    for (int64_t i = 0; i < static_cast<int64_t>(part.size()); ++i) pdw[i] += part[i];
}

}  // namespace cudl::cpu
