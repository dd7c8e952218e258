#include "kernels/registry.h"

#include <cstdlib>

#include "kernels/activation.h"
#include "kernels/elementwise.h"

namespace cudl {

// ---- the op list: each op's definition lives beside its dispatcher ----
OpDef linear_op_def();
OpDef activation_op_def(Activation a);
OpDef softmax_op_def();
OpDef cross_entropy_op_def();
OpDef svm_loss_op_def();
OpDef bce_with_logits_op_def();
OpDef mse_loss_op_def();
OpDef dropout_op_def();
OpDef upsample_nearest2d_op_def();
OpDef conv2d_op_def();
OpDef conv_transpose2d_op_def();
OpDef max_pool2d_op_def();
OpDef sgd_op_def();
OpDef sgd_momentum_op_def();
OpDef rmsprop_op_def();
OpDef adam_op_def();
OpDef adamw_op_def();
OpDef batch_norm_op_def();
OpDef layer_norm_op_def();
OpDef group_norm_op_def();
OpDef scaled_dot_product_attention_op_def();
OpDef positional_encoding_op_def();
OpDef temporal_softmax_loss_op_def();
OpDef multi_head_attention_op_def();
OpDef transformer_decoder_layer_op_def();
OpDef unet_resnet_block_op_def();
OpDef spatial_attention_op_def();
OpDef matmul_op_def();
OpDef permute_op_def();
OpDef concat_op_def();
OpDef slice_op_def();
OpDef embedding_op_def();
OpDef upsample_bilinear2d_op_def();
OpDef binary_op_def(BinaryOp op);
OpDef unary_op_def(UnaryOp op);
OpDef scale_shift_op_def();
OpDef where_op_def();
OpDef masked_fill_op_def();
OpDef sum_op_def();
OpDef mean_op_def();
OpDef timestep_embedding_op_def();
OpDef ddpm_q_sample_op_def();

const std::vector<OpDef>& op_registry() {
  static const std::vector<OpDef> all = [] {
    std::vector<OpDef> ops;
    ops.push_back(linear_op_def());
    for (Activation a : {Activation::ReLU, Activation::LeakyReLU, Activation::GELU, Activation::SiLU, Activation::Tanh,
                         Activation::Sigmoid})
      ops.push_back(activation_op_def(a));
    ops.push_back(softmax_op_def());
    ops.push_back(cross_entropy_op_def());
    ops.push_back(svm_loss_op_def());
    ops.push_back(bce_with_logits_op_def());
    ops.push_back(mse_loss_op_def());
    ops.push_back(dropout_op_def());
    ops.push_back(upsample_nearest2d_op_def());
    ops.push_back(conv2d_op_def());
    ops.push_back(conv_transpose2d_op_def());
    ops.push_back(max_pool2d_op_def());
    ops.push_back(sgd_op_def());
    ops.push_back(sgd_momentum_op_def());
    ops.push_back(rmsprop_op_def());
    ops.push_back(adam_op_def());
    ops.push_back(adamw_op_def());
    ops.push_back(batch_norm_op_def());
    ops.push_back(layer_norm_op_def());
    ops.push_back(group_norm_op_def());
    ops.push_back(scaled_dot_product_attention_op_def());
    ops.push_back(positional_encoding_op_def());
    ops.push_back(temporal_softmax_loss_op_def());
    ops.push_back(matmul_op_def());
    ops.push_back(permute_op_def());
    ops.push_back(concat_op_def());
    ops.push_back(slice_op_def());
    ops.push_back(embedding_op_def());
    ops.push_back(upsample_bilinear2d_op_def());
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div}) ops.push_back(binary_op_def(op));
    for (UnaryOp op : {UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Square, UnaryOp::Neg})
      ops.push_back(unary_op_def(op));
    ops.push_back(scale_shift_op_def());
    ops.push_back(where_op_def());
    ops.push_back(masked_fill_op_def());
    ops.push_back(sum_op_def());
    ops.push_back(mean_op_def());
    // Composite ops: modules on the graph (layers/composite_ops.cpp).
    ops.push_back(multi_head_attention_op_def());
    ops.push_back(transformer_decoder_layer_op_def());
    ops.push_back(unet_resnet_block_op_def());
    ops.push_back(spatial_attention_op_def());
    ops.push_back(timestep_embedding_op_def());
    ops.push_back(ddpm_q_sample_op_def());
    return ops;
  }();
  return all;
}

const OpDef* find_op(const std::string& name) {
  for (const auto& op : op_registry())
    if (op.name == name) return &op;
  return nullptr;
}

// ---- Attrs ----
namespace {
const std::string& attr_value(const std::map<std::string, std::string>& values, const char* op,
                              const std::string& key) {
  auto it = values.find(key);
  CUDL_CHECK(it != values.end(), op, ": missing attribute '", key, "'");
  return it->second;
}
}  // namespace

std::int64_t Attrs::get_int(const char* op, const std::string& key) const {
  const std::string& text = attr_value(values_, op, key);
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  CUDL_CHECK(!text.empty() && *end == '\0', op, ": attribute '", key, "' is not an integer: '", text, "'");
  return value;
}

std::int64_t Attrs::get_int(const char* op, const std::string& key, std::int64_t fallback) const {
  return has(key) ? get_int(op, key) : fallback;
}

double Attrs::get_float(const char* op, const std::string& key) const {
  const std::string& text = attr_value(values_, op, key);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  CUDL_CHECK(!text.empty() && *end == '\0', op, ": attribute '", key, "' is not a number: '", text, "'");
  return value;
}

double Attrs::get_float(const char* op, const std::string& key, double fallback) const {
  return has(key) ? get_float(op, key) : fallback;
}

const std::string& Attrs::get_string(const char* op, const std::string& key) const {
  return attr_value(values_, op, key);
}

std::string Attrs::str() const {
  std::string s;
  for (const auto& [k, v] : values_) s += (s.empty() ? "" : " ") + k + "=" + v;
  return s;
}

// ---- inputs and results ----
TensorMap make_inputs(const OpCase& c, std::uint64_t seed) {
  Generator gen(seed);
  TensorMap inputs;
  for (const InputSpec& spec : c.inputs) {
    Tensor t = Tensor::empty(spec.shape, spec.kind == InputSpec::Kind::Labels ? DType::I64 : DType::F32);
    switch (spec.kind) {
      case InputSpec::Kind::Normal: fill_normal(t, gen); break;
      case InputSpec::Kind::Uniform: fill_uniform(t, gen); break;
      case InputSpec::Kind::Positive: fill_uniform(t, gen, 0.5f, 1.5f); break;
      case InputSpec::Kind::Mask: {
        fill_uniform(t, gen);
        float* p = t.data<float>();
        for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] < 0.7f ? 1.0f : 0.0f;
        break;
      }
      case InputSpec::Kind::Labels: {
        Tensor u = Tensor::empty(spec.shape);
        fill_uniform(u, gen);
        const float* pu = u.data<float>();
        std::int64_t* p = t.data<std::int64_t>();
        for (std::int64_t i = 0; i < t.numel(); ++i)
          p[i] = std::min<std::int64_t>(static_cast<std::int64_t>(pu[i] * spec.classes), spec.classes - 1);
        break;
      }
    }
    inputs.emplace(spec.name, std::move(t));
  }
  return inputs;
}

Tensor input_on(const char* op, const TensorMap& inputs, const std::string& name, Device device) {
  auto it = inputs.find(name);
  CUDL_CHECK(it != inputs.end(), op, ": missing input '", name, "'");
  return it->second.to(device);
}

Tensor upstream_gradient(const TensorMap& inputs, const Tensor& out, Device device) {
  auto it = inputs.find("dout");
  if (it != inputs.end()) {
    CUDL_CHECK(it->second.shape() == out.shape(), "upstream gradient: expected dout of shape ",
               shape_str(out.shape()), ", got ", it->second.str());
    return it->second.to(device);
  }
  Generator gen(1234);
  return randn(out.shape(), gen, device);
}

const Tensor& timed_upstream_gradient(TensorMap& workspace, const Tensor& out) {
  Tensor dout = upstream_gradient(workspace, out, out.device());
  return workspace.insert_or_assign("dout", std::move(dout)).first->second;
}

void put_result(TensorMap& results, const std::string& name, const Tensor& t) {
  results.insert_or_assign(name, t.to(Device::cpu()));
}

}  // namespace cudl
