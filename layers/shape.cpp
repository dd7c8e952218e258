#include "layers/shape.h"

#include "core/check.h"
#include "kernels/upsample.h"

namespace cudl {

MaxPool2d::MaxPool2d(std::int64_t kernel_size, std::int64_t stride)
    : params_{kernel_size, kernel_size, stride == 0 ? kernel_size : stride} {}

Tensor MaxPool2d::forward(const Tensor& x) {
  x_ = x.view();
  return max_pool2d_forward(x, params_);
}

Tensor MaxPool2d::backward(const Tensor& dout) {
  CUDL_CHECK(x_.defined(), "MaxPool2d: backward called before forward");
  return max_pool2d_backward(dout, x_, params_);
}

std::string MaxPool2d::name() const {
  return "MaxPool2d(kernel_size=" + std::to_string(params_.kernel_h) + ", stride=" + std::to_string(params_.stride) +
         ")";
}

Tensor Upsample::forward(const Tensor& x) { return upsample_nearest2d_forward(x, scale_); }

Tensor Upsample::backward(const Tensor& dout) { return upsample_nearest2d_backward(dout, scale_); }

std::string Upsample::name() const {
  return "Upsample(scale_factor=" + std::to_string(scale_) + ", mode='nearest')";
}

Tensor Flatten::forward(const Tensor& x) {
  CUDL_CHECK(x.dim() >= 1, "Flatten: expected a batch, got ", x.str());
  input_shape_ = x.shape();
  return x.reshape({x.size(0), -1});
}

Tensor Flatten::backward(const Tensor& dout) {
  CUDL_CHECK(!input_shape_.empty(), "Flatten: backward called before forward");
  return dout.reshape(input_shape_);
}

}  // namespace cudl
