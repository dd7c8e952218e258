// GAN training as CS231n's run_a_gan (GANs-PyTorch.ipynb), with the nets of
// models/gan.h:
//
//   GanTrainer trainer(std::move(splits.train), {.model = "dcgan", .loss = GanLoss::LeastSquares});
//   while (trainer.iteration() < 1000) trainer.step();
//   write_image_grid("samples.png", trainer.samples(), 8, 2, -1, 1);
//
// Each iteration is one discriminator step, on a real batch and generated images
// that carry no graph (G(z) under NoGradGuard: CS231n's G(z).detach()), then one
// generator step on fresh noise through the frozen discriminator, whose parameters
// get no gradient. Both nets use Adam (lr 1e-3, betas 0.5 and 0.999). Real images
// are scaled to [-1, 1], noise is uniform in (-1, 1), the last partial batch of an
// epoch is skipped. All randomness (initialisation, noise, batch order) is Philox
// from the seed, so the same seed gives the same run and a saved state resumes it
// bit for bit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "layers/sequential.h"
#include "models/gan.h"
#include "train/optimizer.h"
#include "train/step.h"

namespace cudl {

enum class GanLoss { Vanilla, LeastSquares };
GanLoss parse_gan_loss(const std::string& name);  // "vanilla" | "ls"
const char* gan_loss_name(GanLoss loss);           // "vanilla" | "ls"

// `scores` [2N, 1]: the discriminator's logits for N real images, then for N fakes,
// scored in one pass (neither discriminator has batch norm, so one pass of 2N is two
// passes of N). As batch means:
//   vanilla  BCE(real, 1) + BCE(fake, 0)        = 2 x BCE over the 2N, targets 1 then 0
//   ls       ½mean((real - 1)²) + ½mean(fake²)  = mean over the 2N of (score - target)²
Var discriminator_loss(GanLoss loss, const Var& scores);
// `fake_scores` [N, 1]: vanilla BCE(fake, 1); ls ½mean((fake - 1)²).
Var generator_loss(GanLoss loss, const Var& fake_scores);

// CS231n's sample_noise: [n, dim] uniform in [-1, 1).
Tensor sample_noise(std::int64_t n, std::int64_t dim, Generator& gen, Device device = Device::cpu());
// generator(noise) in eval mode (batch norm on its running statistics), no graph:
// [N, 1, 28, 28] in [-1, 1] on the host, ready for write_image_grid(..., -1, 1).
Tensor generate_images(Sequential& generator, const Tensor& noise);

struct GanOptions {
  std::string model = "fc";  // fc | dcgan
  GanLoss loss = GanLoss::Vanilla;
  std::int64_t noise_dim = 96;
  std::int64_t batch_size = 128;
  float lr = 1e-3f, beta1 = 0.5f, beta2 = 0.999f;
  std::int64_t sample_count = 64;  // rows of the fixed noise that samples() shows
  std::uint64_t seed = 0;
  Device device = Device::cpu();
};

struct GanLosses {
  float discriminator = 0.0f;
  float generator = 0.0f;
};

class GanTrainer {
 public:
  // `images`: [N, 1, 28, 28] in [0, 1], as the dataset loaders give them; kept and
  // scaled to [-1, 1]. Throws cudl::Error for images of another size or fewer than a batch.
  GanTrainer(Dataset images, GanOptions options);
  ~GanTrainer();

  // One iteration: discriminator_step on the next real batch, then generator_step.
  GanLosses step();
  // One Adam step of D on `real` [B, ...] (B * 784 values in [-1, 1]) and B fakes.
  float discriminator_step(const Tensor& real);
  // One Adam step of G on batch_size fresh noise rows; D is frozen meanwhile.
  float generator_step();
  // The generator on the fixed noise drawn at construction, so successive grids
  // show the same samples improving.
  Tensor samples();

  std::int64_t iteration() const { return iteration_; }
  std::int64_t iterations_per_epoch() const { return loader_.batches_per_epoch(); }
  const std::vector<float>& discriminator_losses() const { return d_losses_; }
  const std::vector<float>& generator_losses() const { return g_losses_; }
  Sequential& generator() { return *generator_; }
  Sequential& discriminator() { return *discriminator_; }
  const GanOptions& options() const { return options_; }

  // The checkpoint (see save_gan_checkpoint) of the nets as they are now.
  void save_checkpoint(const std::string& path);
  // Everything a resumed run needs: both nets, both optimizers, the random stream,
  // the loader's position, the iteration and the loss histories; atomic.
  void save_state(const std::string& path);
  // Restores a save_state() file; throws cudl::Error naming the difference when it
  // was saved for another model, loss, noise dimension or batch size.
  void load_state(const std::string& path);

 private:
  // The step's loss; throws cudl::Error naming the iteration when it was not taken
  // (a non-finite loss or gradient), so a diverged run stops instead of idling.
  float checked(const StepResult& r, const char* net) const;

  Dataset images_;
  GanOptions options_;
  Generator rng_;  // initialisation, then noise
  std::unique_ptr<Sequential> discriminator_, generator_;
  std::unique_ptr<Optimizer> opt_d_, opt_g_;
  DataLoader loader_;
  Tensor sample_noise_;
  std::int64_t iteration_ = 0;
  std::vector<float> d_losses_, g_losses_;
};

// ---- checkpoints ----
// A safetensors file with the generator's state_dict under "generator." and the
// discriminator's under "discriminator." (torch.nn names, docs/gan.md) and
// __metadata__ model (fc | dcgan), loss, noise_dim and iteration.
struct GanCheckpointInfo {
  std::string model = "fc";
  GanLoss loss = GanLoss::Vanilla;
  std::int64_t noise_dim = 96;
  std::int64_t iteration = 0;
};
void save_gan_checkpoint(const std::string& path, Module& generator, Module& discriminator,
                         const GanCheckpointInfo& info);

struct LoadedGan {
  GanCheckpointInfo info;
  std::unique_ptr<Sequential> generator, discriminator;
};
// Rebuilds both nets from the metadata; throws cudl::Error naming what was expected
// for a file that is not a GAN checkpoint (a classifier's, say).
LoadedGan load_gan_checkpoint(const std::string& path, Device device = Device::cpu());

}  // namespace cudl
