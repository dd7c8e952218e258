#include "layers/shape.h"

#include "core/check.h"
#include "autograd/functions.h"

namespace cudl {

MaxPool2d::MaxPool2d(std::int64_t kernel_size, std::int64_t stride)
    : params_{kernel_size, kernel_size, stride == 0 ? kernel_size : stride} {}

Var MaxPool2d::forward(const Var& x) { return max_pool2d(x, params_); }

std::string MaxPool2d::name() const {
  return "MaxPool2d(kernel_size=" + std::to_string(params_.kernel_h) + ", stride=" + std::to_string(params_.stride) +
         ")";
}

Var Upsample::forward(const Var& x) { return upsample_nearest2d(x, scale_); }

std::string Upsample::name() const {
  return "Upsample(scale_factor=" + std::to_string(scale_) + ", mode='nearest')";
}

Var Flatten::forward(const Var& x) { return flatten(x); }

}  // namespace cudl
