// The denoising U-Net of DDPM (Ho et al. 2020), in the layout of lucidrains'
// denoising-diffusion-pytorch, with an optional class condition for
// classifier-free guidance (Ho & Salimans 2022):
//
//   temb = time_mlp(timestep_embedding(t, width))     Linear - SiLU - Linear, [N, 4 width]
//        + class_emb[c]                               c = num_classes: the learned null class
//        or + mean(text_emb[w] for the caption's tokens)  <START> words <END>; the empty
//                                                     caption <START> <END> is the null condition
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
//   UNet captioned(UNetConfig{.in_channels = 3, .out_channels = 3, .vocab_size = 1000}, 0);
//   captioned.forward(x_t, t, &tokens);               // tokens int64 [N, L], Vocabulary::encode rows
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
  std::int64_t num_classes = 0;                         // > 0: class-conditional
  std::int64_t vocab_size = 0;                          // > 0: caption-conditional (not with classes)

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

  // x [N, in_channels, S, S], t [N] int64 and the condition, all on x's device
  // -> [N, out_channels, S, S]. The condition: class ids int64 [N] in
  // [0, num_classes] (num_classes: unconditioned), or caption tokens int64 [N, L]
  // (Vocabulary::encode rows: <START> words <END>, <NULL> padding), or null (all
  // unconditioned; an unconditional model takes null only).
  Var forward(const Var& x, const Tensor& t, const Tensor* condition);
  // forward as GaussianDiffusion's Denoiser; the UNet must outlive it.
  Denoiser denoiser();

  std::string name() const override;
  const UNetConfig& config() const { return config_; }
  Device device() const { return device_; }
  void to(Device device) override;

 private:
  Var time_embedding(const Tensor& t, const Tensor* condition, std::int64_t batch);
  // The mean of the text embeddings of each row's tokens other than <NULL>.
  Var caption_embedding(const Tensor* tokens, std::int64_t batch, Device device);

  UNetConfig config_;
  Device device_;
  Generator gen_;  // before the layers it initialises
  Sequential time_mlp_;  // Linear, SiLU, Linear: "time_mlp.0", "time_mlp.2"
  std::unique_ptr<Embedding> class_emb_;  // [num_classes + 1, time_dim]; null unless class-conditional
  std::unique_ptr<Embedding> text_emb_;   // [vocab_size, time_dim]; null unless caption-conditional
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
