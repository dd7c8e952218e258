// What `cudl score` and `cudl train gan --classifier` share: a classifier
// checkpoint and the real images it judges samples against (docs/sample-quality.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/device.h"
#include "data/dataset.h"
#include "diffusion/gaussian_diffusion.h"
#include "eval/score.h"
#include "train/checkpoint.h"

namespace cudl {
class UNet;
}

namespace cudl::cli {

class SampleScorer {
 public:
  // Loads the classifier and the MNIST-format folder `data`, and fits the
  // reference Gaussian to the classifier's features of its test images.
  SampleScorer(const std::string& classifier_path, const std::string& data, Device device,
               std::int64_t batch_size = 500, std::int64_t splits = 10);
  SampleScorer(const SampleScorer&) = delete;  // the classifier function points into this object
  SampleScorer& operator=(const SampleScorer&) = delete;

  // "classifier: ...\nreference: N real test images, D features\n"
  std::string describe() const;
  // images [N, 1, 28, 28] float32 in [0, 1] on the host.
  SampleScore score(const Tensor& images) const;
  // format_score_report, plus the share of class `label` when label >= 0.
  std::string report(const SampleScore& score, std::int64_t label = -1) const;

  const Dataset& training_images() const { return real_.train; }
  std::int64_t class_count() const { return static_cast<std::int64_t>(loaded_.class_names.size()); }

 private:
  std::string classifier_path_;
  std::int64_t batch_size_, splits_;
  LoadedCheckpoint loaded_;
  DatasetSplits real_;
  ClassifierFn classify_;
  GaussianStats reference_;
};

// `count` images of a GAN generator for scoring: noise from Philox(seed), made
// 500 at a time, mapped from the generator's [-1, 1] to [0, 1].
Tensor gan_samples_for_scoring(Sequential& generator, std::int64_t noise_dim, std::int64_t count, std::uint64_t seed,
                               Device device);

// `count` images of a class-conditional DDPM (a `cudl train ddpm --data fashion`
// U-Net) for scoring: sample i asks for class i mod classes (`asked`), drawn 250
// at a time from one Generator(seed); each 32x32 sample in [-1, 1] is cropped to
// its centre 28x28 (train ddpm pads Fashion-MNIST by 2) and mapped to [0, 1].
// Progress with rate and ETA goes to stdout.
Tensor ddpm_samples_for_scoring(const GaussianDiffusion& diffusion, UNet& unet, std::int64_t count, std::uint64_t seed,
                                const SampleOptions& options, std::vector<std::int64_t>& asked);

}  // namespace cudl::cli
