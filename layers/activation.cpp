#include "layers/activation.h"

#include <sstream>

#include "core/check.h"
#include "autograd/functions.h"

namespace cudl {

Var ActivationLayer::forward(const Var& x) { return activation(kind_, x, slope_); }

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

Var Dropout::forward(const Var& x) { return dropout(x, p_, *gen_, training_); }

std::string Dropout::name() const {
  std::ostringstream s;
  s << "Dropout(p=" << p_ << ")";
  return s.str();
}

}  // namespace cudl
