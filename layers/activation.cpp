#include "layers/activation.h"

#include <sstream>

#include "core/check.h"
#include "kernels/dropout.h"

namespace cudl {

Tensor ActivationLayer::forward(const Tensor& x) {
  x_ = x.view();
  return activation_forward(kind_, x, slope_);
}

Tensor ActivationLayer::backward(const Tensor& dout) {
  CUDL_CHECK(x_.defined(), name(), ": backward called before forward");
  return activation_backward(kind_, dout, x_, slope_);
}

std::string ActivationLayer::name() const {
  switch (kind_) {
    case Activation::ReLU: return "ReLU()";
    case Activation::LeakyReLU: {
      std::ostringstream s;
      s << "LeakyReLU(negative_slope=" << slope_ << ")";
      return s.str();
    }
    case Activation::GELU: return "GELU()";
    case Activation::SiLU: return "SiLU()";
    case Activation::Tanh: return "Tanh()";
    case Activation::Sigmoid: return "Sigmoid()";
  }
  return "?";
}

Dropout::Dropout(float p, Generator& gen) : p_(p), gen_(&gen) {
  CUDL_CHECK(p >= 0.0f && p < 1.0f, "Dropout: p must be in [0, 1), got ", p);
}

Tensor Dropout::forward(const Tensor& x) {
  DropoutResult r = dropout_forward(x, p_, *gen_, training_);
  mask_ = std::move(r.mask);
  return std::move(r.out);
}

Tensor Dropout::backward(const Tensor& dout) {
  if (!mask_.defined()) return dout.view();  // eval mode: the identity
  return dropout_backward(dout, mask_);
}

std::string Dropout::name() const {
  std::ostringstream s;
  s << "Dropout(p=" << p_ << ")";
  return s.str();
}

}  // namespace cudl
