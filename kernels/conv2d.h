// 2-D convolution (cross-correlation, as torch.nn.functional.conv2d and CS231n's
// conv_forward_naive) and its transpose, NCHW.
//   conv2d:           x [N,C,H,W], w [F,C/groups,KH,KW], b [F] -> [N,F,H',W'],
//                     H' = 1 + (H + 2 pad - KH) / stride
//   conv_transpose2d: x [N,Cin,H,W], w [Cin,Cout,KH,KW], b [Cout] -> [N,Cout,H'',W''],
//                     H'' = (H - 1) stride - 2 pad + KH  (conv2d's backward-data path)
#pragma once

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

struct Conv2dParams {
  std::int64_t stride = 1;
  std::int64_t pad = 0;     // symmetric zero padding on both axes
  std::int64_t groups = 1;  // conv2d only
};

struct Conv2dGrads {
  Tensor dx, dw, db;
};

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, Impl impl = Impl::Auto);
Conv2dGrads conv2d_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Conv2dParams& p,
                            Impl impl = Impl::Auto);

Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                                Impl impl = Impl::Auto);
Conv2dGrads conv_transpose2d_backward(const Tensor& dout, const Tensor& x, const Tensor& w, const Conv2dParams& p,
                                      Impl impl = Impl::Auto);

}  // namespace cudl
