// The denoising U-Net of DDPM (Ho et al. 2020), in the layout of lucidrains'
// denoising-diffusion-pytorch, with an optional class condition for
// classifier-free guidance (Ho & Salimans 2022):
//
//   temb = time_mlp(timestep_embedding(t, width))     Linear - SiLU - Linear, [N, 4 width]
//        + class_emb[c]                               c = num_classes: the learned null class
//   h    = init_conv(x)                               3x3
//   down: per level, num_res_blocks x (ResnetBlock(h, temb) [+ SpatialAttention]), each
//         output kept as a skip; then a stride-2 3x3 conv (not at the last level)
//   mid:  ResnetBlock, SpatialAttention, ResnetBlock
//   up:   levels mirrored; each block reads concat(h, skip) on channels; then nearest
//         x2 upsampling and a 3x3 conv (not at the top level)
//   out  = final_conv(silu(final_norm(h)))            GroupNorm, 1x1 conv
//
// Parameter names are the torch.nn module's of docs/ddpm.md ("downs.0.blocks.1.mlp.weight",
// "mid_attn.to_qkv.weight", "class_emb.weight", ...), so a checkpoint loads into it.
//
//   UNet unet(UNetConfig{.width = 32, .num_classes = 10}, /*seed=*/0);
//   Var eps = unet.forward(x_t, t, &labels);          // labels int64 [N]; entries 10 = unconditioned
//   diffusion.training_loss(unet.denoiser(), x0, &labels, gen);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "diffusion/gaussian_diffusion.h"
#include "layers/attention.h"
#include "layers/embedding.h"
#include "layers/resnet_block.h"
#include "layers/sequential.h"

namespace cudl {

struct UNetConfig {
  std::int64_t in_channels = 1, out_channels = 1;
  std::int64_t image_size = 32;                         // square inputs, divisible by 2^(levels - 1)
  std::int64_t width = 32;                              // channels of level 0; the sinusoid has this many
  std::vector<std::int64_t> multipliers = {1, 2, 2};    // level i has width * multipliers[i] channels
  std::int64_t num_res_blocks = 2;                      // per level, down and up
  std::vector<std::int64_t> attention_resolutions = {16};  // feature-map sizes whose blocks attend
  std::int64_t groups = 8;                              // GroupNorm groups, dividing every width
  std::int64_t heads = 4;                               // SpatialAttention heads
  std::int64_t num_classes = 0;                         // 0: unconditional

  std::int64_t levels() const { return static_cast<std::int64_t>(multipliers.size()); }
  std::int64_t time_dim() const { return 4 * width; }
  std::string to_json() const;
  static UNetConfig from_json(const std::string& text);  // throws cudl::Error naming the field
};

// One level of the down or up path: its blocks, their attention (an empty
// ModuleList where the level does not attend) and the resampling conv.
class UNetLevel : public Module {
 public:
  UNetLevel();
  // Registers the resampling conv after the blocks, under `conv_name`.
  void set_resample(const std::string& conv_name, std::unique_ptr<Conv2d> conv);
  std::string name() const override;

  ModuleList<ResnetBlock> blocks;
  ModuleList<SpatialAttention> attns;
  std::unique_ptr<Conv2d> resample;  // "downsample" or "upsample_conv"; null at the bottom / top level
};

class UNet : public Module {
 public:
  // Parameters from Generator(seed), torch.nn's default initialisation
  // (class_emb N(0, 1), as nn.Embedding). Throws on an inconsistent config.
  UNet(const UNetConfig& config, std::uint64_t seed, Device device = Device::cpu());

  // x [N, in_channels, S, S], t [N] int64, class_ids [N] int64 in [0, num_classes]
  // (num_classes: unconditioned) or null (all unconditioned), both on x's device
  // -> [N, out_channels, S, S].
  Var forward(const Var& x, const Tensor& t, const Tensor* class_ids);
  // forward as GaussianDiffusion's Denoiser; the UNet must outlive it.
  Denoiser denoiser();

  std::string name() const override;
  const UNetConfig& config() const { return config_; }
  Device device() const { return device_; }
  void to(Device device) override;

 private:
  Var time_embedding(const Tensor& t, const Tensor* class_ids, std::int64_t batch);

  UNetConfig config_;
  Device device_;
  Generator gen_;  // before the layers it initialises
  Sequential time_mlp_;  // Linear, SiLU, Linear: "time_mlp.0", "time_mlp.2"
  std::unique_ptr<Embedding> class_emb_;  // [num_classes + 1, time_dim]; null when unconditional
  Conv2d init_conv_;
  ModuleList<UNetLevel> downs_;
  std::unique_ptr<ResnetBlock> mid_block1_;
  std::unique_ptr<SpatialAttention> mid_attn_;
  std::unique_ptr<ResnetBlock> mid_block2_;
  ModuleList<UNetLevel> ups_;
  std::unique_ptr<GroupNorm> final_norm_;
  std::unique_ptr<Conv2d> final_conv_;
};

}  // namespace cudl
