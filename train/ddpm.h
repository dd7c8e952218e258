// `cudl train ddpm` checkpoints read back, and sampling from them: what
// `cudl sample ddpm` and `cudl score` share (docs/ddpm.md has the layout).
//
//   DdpmCheckpoint c = read_ddpm_checkpoint("runs/ddpm/checkpoint.safetensors");
//   UNet unet(c.config, 0, device);
//   load_model_state(unet, c.file.tensors, "ema.");
//   const Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{7, 7}, {2});
//   Generator gen(/*seed=*/0);
//   Tensor images = sample_ddpm(GaussianDiffusion(c.diffusion, device), unet, &labels, 2, gen, {});
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/formats/safetensors.h"
#include "data/caption.h"
#include "diffusion/gaussian_diffusion.h"
#include "models/unet.h"

namespace cudl {

// The checkpoint's "model" metadata.
inline constexpr const char* kDdpmCheckpointKind = "ddpm_unet";

struct DdpmCheckpoint {
  SafetensorsFile file;
  UNetConfig config;
  DiffusionConfig diffusion;
  std::int64_t iteration = 0;
  std::vector<std::string> class_names;  // a class-conditional model's
  std::optional<Vocabulary> vocabulary;  // a caption-conditional model's
};

// Throws cudl::Error naming the file: another kind of checkpoint, missing or
// malformed metadata.
DdpmCheckpoint read_ddpm_checkpoint(const std::string& path);

// Caption tokens int64 [n, L] for the caption-conditional U-Net: each row
// Vocabulary::encode's <START> words <END>, padded with <NULL> to the longest.
// Words outside the vocabulary become <UNK>; `unknown` (if given) collects them.
Tensor caption_condition(const Vocabulary& vocabulary, const std::vector<std::string>& captions,
                         std::vector<std::string>* unknown = nullptr);

// n samples [n, C, S, S] in [-1, 1], every draw from gen (the same generator
// state, the same samples); sample i conditioned on row i of `condition` (class
// ids int64 [n] or caption tokens int64 [n, L], on the host), or unconditioned
// when it is null.
Tensor sample_ddpm(const GaussianDiffusion& diffusion, UNet& unet, const Tensor* condition, std::int64_t n,
                   Generator& gen, const SampleOptions& options);

}  // namespace cudl
