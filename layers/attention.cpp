#include "layers/attention.h"

#include "autograd/functions.h"
#include "autograd/tensor_ops.h"
#include "core/check.h"

namespace cudl {

namespace {
// [N, L, E] -> [N, H, L, E/H]: heads become a batch dimension for attention.
Var split_heads(const Var& x, std::int64_t heads) {
  return permute(reshape(x, {x.size(0), x.size(1), heads, x.size(2) / heads}), {0, 2, 1, 3});
}

// [N, H, L, Dh] -> [N, L, H * Dh].
Var merge_heads(const Var& x) {
  return reshape(permute(x, {0, 2, 1, 3}), {x.size(0), x.size(2), x.size(1) * x.size(3)});
}
}  // namespace

MultiHeadAttention::MultiHeadAttention(std::int64_t embed_dim, std::int64_t num_heads, Generator& gen, Device device)
    : key(embed_dim, embed_dim, gen, device),
      query(embed_dim, embed_dim, gen, device),
      value(embed_dim, embed_dim, gen, device),
      proj(embed_dim, embed_dim, gen, device),
      heads_(num_heads) {
  CUDL_CHECK(num_heads >= 1 && embed_dim % num_heads == 0, "MultiHeadAttention: num_heads ", num_heads,
             " must divide embed_dim ", embed_dim);
  register_module("key", &key);
  register_module("query", &query);
  register_module("value", &value);
  register_module("proj", &proj);
}

Var MultiHeadAttention::forward(const Var& q_in, const Var& k_in, const Var& v_in, const Tensor* mask) {
  const std::int64_t embed = query.weight.size(1);
  CUDL_CHECK(q_in.dim() == 3 && q_in.size(2) == embed && k_in.dim() == 3 && k_in.size(2) == embed &&
                 v_in.shape() == k_in.shape() && q_in.size(0) == k_in.size(0),
             "MultiHeadAttention: expected query [N, S, ", embed, "] and key, value [N, T, ", embed, "], got ",
             shape_str(q_in.shape()), ", ", shape_str(k_in.shape()), ", ", shape_str(v_in.shape()));
  if (mask)
    CUDL_CHECK(mask->shape() == (Shape{q_in.size(1), k_in.size(1)}), "MultiHeadAttention: expected a mask [",
               q_in.size(1), ", ", k_in.size(1), "], got ", mask->str());
  const Var q = split_heads(query.forward(q_in), heads_), k = split_heads(key.forward(k_in), heads_),
            v = split_heads(value.forward(v_in), heads_);
  AttentionOptions options;
  options.mask = mask;
  return proj.forward(merge_heads(scaled_dot_product_attention(q, k, v, options)));
}

std::string MultiHeadAttention::name() const {
  return "MultiHeadAttention(embed_dim=" + std::to_string(query.weight.size(1)) +
         ", num_heads=" + std::to_string(heads_) + ")";
}

FeedForward::FeedForward(std::int64_t dim, std::int64_t hidden, Generator& gen, Device device)
    : fc1(dim, hidden, gen, device), fc2(hidden, dim, gen, device) {
  register_module("fc1", &fc1);
  register_module("fc2", &fc2);
}

Var FeedForward::forward(const Var& x) { return fc2.forward(gelu(fc1.forward(x))); }

std::string FeedForward::name() const {
  return "FeedForward(" + std::to_string(fc1.weight.size(1)) + ", hidden=" + std::to_string(fc1.weight.size(0)) + ")";
}

TransformerDecoderLayer::TransformerDecoderLayer(std::int64_t dim, std::int64_t num_heads, std::int64_t feedforward,
                                                 Generator& gen, float eps, Device device)
    : self_attn(dim, num_heads, gen, device),
      cross_attn(dim, num_heads, gen, device),
      ffn(dim, feedforward, gen, device),
      norm_self(dim, eps, device),
      norm_cross(dim, eps, device),
      norm_ffn(dim, eps, device) {
  register_module("self_attn", &self_attn);
  register_module("cross_attn", &cross_attn);
  register_module("ffn", &ffn);
  register_module("norm_self", &norm_self);
  register_module("norm_cross", &norm_cross);
  register_module("norm_ffn", &norm_ffn);
}

Var TransformerDecoderLayer::forward(const Var& tgt, const Var& memory, const Tensor* tgt_mask) {
  Var x = norm_self.forward(tgt + self_attn.forward(tgt, tgt, tgt, tgt_mask));
  x = norm_cross.forward(x + cross_attn.forward(x, memory, memory));
  return norm_ffn.forward(x + ffn.forward(x));
}

std::string TransformerDecoderLayer::name() const {
  return "TransformerDecoderLayer(" + self_attn.name() + ", " + ffn.name() + ")";
}

SpatialAttention::SpatialAttention(std::int64_t channels, std::int64_t num_heads, std::int64_t groups, Generator& gen,
                                   float eps, Device device)
    : norm(groups, channels, eps, device),
      to_qkv(channels, 3 * channels, gen, device, /*bias=*/false),
      to_out(channels, channels, gen, device),
      heads_(num_heads) {
  CUDL_CHECK(num_heads >= 1 && channels % num_heads == 0, "SpatialAttention: num_heads ", num_heads,
             " must divide channels ", channels);
  register_module("norm", &norm);
  register_module("to_qkv", &to_qkv);
  register_module("to_out", &to_out);
}

Var SpatialAttention::forward(const Var& x) {
  CUDL_CHECK(x.dim() == 4 && x.size(1) == norm.weight.size(0), "SpatialAttention: expected x [N, ",
             norm.weight.size(0), ", H, W], got ", x.value().str());
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const Var tokens = permute(reshape(norm.forward(x), {n, c, h * w}), {0, 2, 1});  // [N, HW, C]
  const std::vector<Var> qkv = chunk(to_qkv.forward(tokens), 3, -1);
  const Var y = merge_heads(
      scaled_dot_product_attention(split_heads(qkv[0], heads_), split_heads(qkv[1], heads_), split_heads(qkv[2], heads_)));
  return x + reshape(permute(to_out.forward(y), {0, 2, 1}), {n, c, h, w});
}

std::string SpatialAttention::name() const {
  return "SpatialAttention(" + std::to_string(norm.weight.size(0)) + ", num_heads=" + std::to_string(heads_) + ")";
}

}  // namespace cudl
