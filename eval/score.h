// Scores a set of generated images with a trained classifier: the Fréchet
// distance of its penultimate features to those of real images ("FID" on our
// classifier), the Inception-Score analogue of its class probabilities, and the
// histogram of its labels.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "eval/frechet.h"
#include "eval/inception_score.h"

namespace cudl {

// The scoring classifier: images float32 [B, 1, H, W] in [0, 1] on the host in;
// features float32 [B, D] and probabilities float32 [B, C] (softmax rows) on
// the host out. eval/classifier.h makes one from a checkpoint.
using ClassifierFn = std::function<void(const Tensor& images, Tensor& features, Tensor& probabilities)>;

struct ClassifierOutputs {
  Tensor features;       // [N, D]
  Tensor probabilities;  // [N, C]
};

// Runs `images` [N, ...] through `classifier` batch_size rows at a time and
// concatenates the results, checking every batch's shapes.
ClassifierOutputs classify_in_batches(const Tensor& images, const ClassifierFn& classifier,
                                      std::int64_t batch_size = 500);

struct SampleScore {
  std::int64_t count = 0;
  FrechetDistance fid;
  InceptionScore inception;
  std::vector<std::int64_t> label_histogram;
  std::vector<std::int64_t> labels;  // the classifier's label of each sample
};

// FID against `reference` (the statistics of real images' features), IS over
// `splits` parts and the label histogram, from the classifier's outputs.
SampleScore score_outputs(const ClassifierOutputs& outputs, const GaussianStats& reference, std::int64_t splits = 10);

// A few lines: FID with its two terms (and clamped eigenvalues, if any), IS
// mean +- std, then one line per class with its count and share of the samples.
std::string format_score_report(const SampleScore& score, const std::vector<std::string>& class_names);

}  // namespace cudl
