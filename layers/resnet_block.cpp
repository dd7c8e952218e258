#include "layers/resnet_block.h"

#include "autograd/functions.h"
#include "autograd/tensor_ops.h"
#include "core/check.h"

namespace cudl {

ConvNorm::ConvNorm(std::int64_t in, std::int64_t out, std::int64_t groups, float eps, Generator& gen, Device device)
    : conv(in, out, 3, gen, Conv2dParams{1, 1, 1}, device), norm(groups, out, eps, device) {
  register_module("conv", &conv);
  register_module("norm", &norm);
}

std::string ConvNorm::name() const { return "ConvNorm(" + conv.name() + ", " + norm.name() + ")"; }

ResnetBlock::ResnetBlock(std::int64_t in_channels, std::int64_t out_channels, std::int64_t embed_dim,
                         std::int64_t groups, Generator& gen, float eps, Device device)
    : mlp(embed_dim, 2 * out_channels, gen, device),
      block1(in_channels, out_channels, groups, eps, gen, device),
      block2(out_channels, out_channels, groups, eps, gen, device) {
  register_module("mlp", &mlp);
  register_module("block1", &block1);
  register_module("block2", &block2);
  if (in_channels != out_channels) {
    res_conv = std::make_unique<Conv2d>(in_channels, out_channels, 1, gen, Conv2dParams{}, device);
    register_module("res_conv", res_conv.get());
  }
}

Var ResnetBlock::forward(const Var& x, const Var& temb) {
  const std::int64_t out_channels = block1.conv.weight.size(0);
  CUDL_CHECK(temb.dim() == 2 && temb.size(0) == x.size(0) && temb.size(1) == mlp.weight.size(1),
             "ResnetBlock: expected temb [", x.size(0), ", ", mlp.weight.size(1), "], got ", temb.value().str());
  const std::vector<Var> scale_shift = chunk(mlp.forward(silu(temb)), 2, 1);
  const Shape per_channel{x.size(0), out_channels, 1, 1};
  Var h = block1.norm.forward(block1.conv.forward(x));
  h = silu(h * (reshape(scale_shift[0], per_channel) + 1.0f) + reshape(scale_shift[1], per_channel));
  h = silu(block2.norm.forward(block2.conv.forward(h)));
  return h + (res_conv ? res_conv->forward(x) : x);
}

std::string ResnetBlock::name() const {
  return "ResnetBlock(" + std::to_string(block1.conv.weight.size(1)) + " -> " +
         std::to_string(block1.conv.weight.size(0)) + ")";
}

}  // namespace cudl
