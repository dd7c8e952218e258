#include "eval/classifier.h"

#include "autograd/var.h"
#include "core/check.h"
#include "kernels/softmax.h"

namespace cudl {

ClassifierFn model_classifier(Model& model, const Normalization& normalization) {
  CUDL_CHECK(model.size() >= 2, "model_classifier: expected a model of at least two children to split features "
             "from the classifier layer, got ", model.size());
  return [&model, normalization](const Tensor& images, Tensor& features, Tensor& probabilities) {
    check_float("model_classifier", "images", images);
    check_ndim("model_classifier", "images", images, 4);
    // normalize() works on a Dataset; the labels are not used.
    Dataset batch{images.clone(), Tensor::zeros({images.size(0)}, DType::I64), {}};
    normalize(batch, normalization);
    const bool was_training = model.training();
    model.set_training(false);
    NoGradGuard no_grad;
    const Var x = model.forward_range(Var(batch.images.to(model.device())), 0, model.size() - 1);
    const Var logits = model.forward_range(x, model.size() - 1, model.size());
    model.set_training(was_training);
    CUDL_CHECK(x.dim() == 2, "model_classifier: expected the penultimate output [B, D], got ", x.value().str());
    features = x.value().to(Device::cpu());
    probabilities = softmax_forward(logits.value()).to(Device::cpu());
  };
}

}  // namespace cudl
