// Attention modules: CS231n's MultiHeadAttention and post-norm
// TransformerDecoderLayer, and the U-Net's SpatialAttention. Parameter names are
// those of the torch.nn modules (../docs and FORMAT.md's composite ops), so a
// checkpoint loads into the torch.nn equivalents.
#pragma once

#include "core/rng.h"
#include "layers/linear.h"
#include "layers/normalization.h"

namespace cudl {

// key, query, value and proj Linear(E, E), registered in CS231n's order. Heads
// split E into num_heads pieces of E / num_heads; scores are scaled by
// 1/sqrt(E / num_heads); `mask` [S, T] hides key t from query s where it is 0.
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(std::int64_t embed_dim, std::int64_t num_heads, Generator& gen, Device device = Device::cpu());
  // query [N, S, E], key and value [N, T, E] -> [N, S, E].
  Var forward(const Var& query, const Var& key, const Var& value, const Tensor* mask = nullptr);
  std::string name() const override;

  Linear key, query, value, proj;

 private:
  std::int64_t heads_;
};

// fc2(gelu(fc1(x))), the decoder layer's feed-forward block.
class FeedForward : public Layer {
 public:
  FeedForward(std::int64_t dim, std::int64_t hidden, Generator& gen, Device device = Device::cpu());
  Var forward(const Var& x) override;
  std::string name() const override;

  Linear fc1, fc2;
};

// x = LN_self(tgt + SelfAttn(tgt, tgt, tgt, tgt_mask));
// x = LN_cross(x + CrossAttn(x, memory, memory)); x = LN_ffn(x + FFN(x)). No dropout.
class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(std::int64_t dim, std::int64_t num_heads, std::int64_t feedforward, Generator& gen,
                          float eps = 1e-5f, Device device = Device::cpu());
  // tgt [N, T, E], memory [N, S, E], tgt_mask [T, T] (nullptr: none).
  Var forward(const Var& tgt, const Var& memory, const Tensor* tgt_mask = nullptr);
  std::string name() const override;

  MultiHeadAttention self_attn, cross_attn;
  FeedForward ffn;
  LayerNorm norm_self, norm_cross, norm_ffn;
};

// Self-attention over the pixels of a feature map, with a residual:
// h = GN(x) as tokens [N, HW, C]; q, k, v = chunk(h to_qkv^T, 3); heads of
// C / num_heads; out = x + to_out(attention(q, k, v)) back in NCHW.
class SpatialAttention : public Layer {
 public:
  SpatialAttention(std::int64_t channels, std::int64_t num_heads, std::int64_t groups, Generator& gen,
                   float eps = 1e-5f, Device device = Device::cpu());
  Var forward(const Var& x) override;
  std::string name() const override;

  GroupNorm norm;
  Linear to_qkv;  // [3C, C], no bias
  Linear to_out;

 private:
  std::int64_t heads_;
};

}  // namespace cudl
