// The scoring classifier of eval/score.h built from a trained model of
// models/models.h (the `deep` Fashion-MNIST ConvNet in practice).
#pragma once

#include "data/dataset.h"
#include "eval/score.h"
#include "models/models.h"

namespace cudl {

// Images in [0, 1] are normalised as the model was trained ((x - mean) / std
// per channel), run in eval mode on the model's device (its mode is restored
// after each call), and split at the last child: features = the output of all
// children but the last (for `deep`, the fc hidden block after its batch norm
// and ReLU, 256 wide), probabilities = softmax of the last child's logits.
// `model` must outlive the returned function.
ClassifierFn model_classifier(Model& model, const Normalization& normalization);

}  // namespace cudl
