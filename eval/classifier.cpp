#include "eval/classifier.h"

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
    Tensor x = batch.images.to(model.device());
    for (std::size_t i = 0; i + 1 < model.size(); ++i) x = model[i].forward(x);
    const Tensor logits = model[model.size() - 1].forward(x);
    model.set_training(was_training);
    CUDL_CHECK(x.dim() == 2, "model_classifier: expected the penultimate output [B, D], got ", x.str());
    features = x.to(Device::cpu());
    probabilities = softmax_forward(logits).to(Device::cpu());
  };
}

}  // namespace cudl
