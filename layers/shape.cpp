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

Unflatten::Unflatten(Shape sizes) : sizes_(std::move(sizes)) {
  CUDL_CHECK(!sizes_.empty(), "Unflatten: expected at least one size");
}

Var Unflatten::forward(const Var& x) {
  CUDL_CHECK(x.dim() == 2 && x.size(1) == shape_numel(sizes_), "Unflatten: expected [N, ", shape_numel(sizes_),
             "] to unflatten into ", shape_str(sizes_), ", got ", x.value().str());
  Shape shape = {x.size(0)};
  shape.insert(shape.end(), sizes_.begin(), sizes_.end());
  return reshape(x, shape);
}

std::string Unflatten::name() const {
  std::string s = "Unflatten(dim=1, unflattened_size=(";
  for (std::size_t i = 0; i < sizes_.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes_[i]);
  return s + (sizes_.size() == 1 ? ",))" : "))");
}

}  // namespace cudl
