// CS231n's CaptioningTransformer, on the graph.
//
//   memory  = visual_projection(features)         one token per image, or
//           = visual_projection(encoder(images))  one token per cell of a small
//                                                 conv net's last feature map
//   x       = positional_encoding(embedding(captions))     <NULL> rows get no gradient
//   x       = decoder layer(x, memory, causal mask), num_layers times (post-norm)
//   scores  = output(x)                            [N, T, V]
//
// Parameter names follow the torch.nn module of docs/captioner.md: "encoder.0.weight",
// "visual_projection.weight", "embedding.weight", "layers.0.self_attn.query.weight", ...,
// "output.weight". CS231n's initialisation: linear and embedding weights N(0, 0.02),
// biases 0, layer norms 1 and 0, except `output`, which keeps torch.nn's default
// (CS231n initialises before creating it) and the conv encoder (torch.nn's default).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "layers/attention.h"
#include "layers/embedding.h"
#include "layers/sequential.h"

namespace cudl {

struct CaptionerConfig {
  std::int64_t vocab_size = 0;
  // The input: images [C, H, W] (a conv encoder is trained jointly) or feature
  // vectors [D] (precomputed, as CS231n's COCO files).
  Shape input_shape;
  std::int64_t wordvec_dim = 256;  // the model width W
  std::int64_t num_heads = 4;
  std::int64_t num_layers = 2;
  std::int64_t feedforward = 512;
  std::int64_t max_length = 30;  // positional table length; longest caption the model reads
  std::vector<std::int64_t> encoder_channels = {32, 64};  // conv3x3-relu-maxpool2 stages (images only)

  bool uses_images() const { return input_shape.size() == 3; }
  std::string to_json() const;
  static CaptionerConfig from_json(const std::string& text);  // throws naming the field
};

class CaptioningTransformer : public Module {
 public:
  CaptioningTransformer(const CaptionerConfig& config, std::uint64_t seed, Device device = Device::cpu());

  // inputs [N, C, H, W] or [N, D]: the memory tokens [N, M, W].
  Var encode(const Var& inputs);
  // captions [N, T] int64 (data) -> scores [N, T, V], attending to `memory`.
  Var decode(const Var& memory, const Tensor& captions);
  Var forward(const Var& inputs, const Tensor& captions) { return decode(encode(inputs), captions); }

  // Greedy decoding from <START>, up to max_length - 1 words or <END>; ids [N, L]
  // (no <START>), padded with <NULL> after <END>.
  std::vector<std::vector<std::int64_t>> sample_greedy(const Tensor& inputs);
  // Beam search of `width` hypotheses per input: each step keeps the likeliest
  // continuations (sum of word log probabilities); a hypothesis that reaches
  // <END> is set aside and the live beam shrinks by one, until none is left.
  // The caption is the set-aside one of highest log probability per word (so
  // short captions are not favoured).
  std::vector<std::vector<std::int64_t>> sample_beam(const Tensor& inputs, std::int64_t width);

  std::string name() const override;
  const CaptionerConfig& config() const { return config_; }
  Device device() const { return device_; }
  void to(Device device) override;

 private:
  // [T, T] lower-triangular ones on the model's device, made once per T.
  const Tensor& causal_mask(std::int64_t t);

  CaptionerConfig config_;
  Device device_;
  Generator gen_;  // before the layers it initialises
  std::unique_ptr<Sequential> encoder_;  // images only
  Linear visual_projection_;
  Embedding embedding_;  // <NULL> padding
  ModuleList<TransformerDecoderLayer> layers_;
  Linear output_;
  std::vector<Tensor> masks_;  // masks_[t]
};

}  // namespace cudl
