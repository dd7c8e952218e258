// The U-Net's ResNet block with a time (or condition) embedding, FORMAT.md's
// `unet_resnet_block`:
//   scale, shift = chunk(mlp(silu(temb)), 2)
//   h = silu(GN1(conv1(x)) * (1 + scale) + shift)      scale, shift per channel
//   h = silu(GN2(conv2(h)))
//   out = h + (res_conv(x) if Cin != Cout else x)       3x3 convs, pad 1
#pragma once

#include <memory>

#include "core/rng.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/normalization.h"

namespace cudl {

// conv then GroupNorm: the children "conv" and "norm" of block1 / block2.
class ConvNorm : public Module {
 public:
  ConvNorm(std::int64_t in, std::int64_t out, std::int64_t groups, float eps, Generator& gen, Device device);
  std::string name() const override;

  Conv2d conv;
  GroupNorm norm;
};

class ResnetBlock : public Module {
 public:
  ResnetBlock(std::int64_t in_channels, std::int64_t out_channels, std::int64_t embed_dim, std::int64_t groups,
              Generator& gen, float eps = 1e-5f, Device device = Device::cpu());
  // x [N, Cin, H, W], temb [N, embed_dim] -> [N, Cout, H, W].
  Var forward(const Var& x, const Var& temb);
  std::string name() const override;

  Linear mlp;
  ConvNorm block1, block2;
  std::unique_ptr<Conv2d> res_conv;  // only when Cin != Cout
};

}  // namespace cudl
