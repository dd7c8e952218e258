// Registry entries of FORMAT.md's composite ops: each case runs through the very
// module the models use (a MultiHeadAttention, a TransformerDecoderLayer, a
// ResnetBlock, a SpatialAttention) and the graph differentiates it, so the golden
// runner, the agreement tests and the benchmarks check the modules end to end.
#include <functional>
#include <memory>

#include "autograd/var.h"
#include "kernels/registry.h"
#include "layers/attention.h"
#include "layers/resnet_block.h"
#include "train/checkpoint.h"

namespace cudl {

namespace {

// A module built for one case, the Vars it takes, and how to run it.
struct CompositeCase {
  std::unique_ptr<Module> module;
  std::vector<std::pair<std::string, Var>> inputs;  // differentiable inputs, by case name
  std::function<Var()> forward;
  TensorMap keep;  // data the forward refers to (masks), on the device
  // A parameter's name in the case, where it differs from its state_dict name.
  std::function<std::string(const std::string&)> case_name;
};

using CaseBuilder = std::function<CompositeCase(const TensorMap& in, const Attrs& attrs, Device device)>;

// Module parameters take the case's tensors: `rename` maps a state_dict name to
// the case's name where the two differ (multi_head_attention's wq, bq, ...).
void load_parameters(Module& m, const TensorMap& in, const std::function<std::string(const std::string&)>& rename) {
  TensorMap named;
  for (Parameter* p : m.parameters()) {
    const std::string source = rename ? rename(p->name) : p->name;
    auto it = in.find(source);
    CUDL_CHECK(it != in.end(), "composite op: missing parameter '", source, "'");
    named.emplace(p->name, it->second.view());
  }
  load_model_state(m, named);
}

Var input_var(CompositeCase& c, const TensorMap& in, const std::string& name, Device device) {
  Var v(input_on("composite op", in, name, device), /*requires_grad=*/true);
  c.inputs.emplace_back(name, v);
  return v;
}

const Tensor* optional_mask(CompositeCase& c, const TensorMap& in, const std::string& name, Device device) {
  if (!in.count(name)) return nullptr;
  auto [it, unused] = c.keep.emplace(name, input_on("composite op", in, name, device));
  return &it->second;
}

TensorMap run_composite(const CaseBuilder& build, const TensorMap& in, const Attrs& attrs, Device device, Impl impl,
                        bool backward) {
  ImplScope scope(impl);
  CompositeCase c = build(in, attrs, device);
  const Var out = c.forward();
  TensorMap results;
  put_result(results, "out", out.value());
  if (backward) {
    out.backward(upstream_gradient(in, out.value(), device));
    for (const auto& [name, v] : c.inputs) put_result(results, "d" + name, v.grad());
    for (Parameter* p : c.module->parameters()) {
      // An attention's key bias shifts every score of a query equally, which
      // softmax cancels: its gradient is zero in exact arithmetic and only float
      // noise is left to compare, so it is not reported (as FORMAT.md's cases).
      if (p->name.ends_with("key.bias") || !p->grad().defined()) continue;
      put_result(results, "d" + (c.case_name ? c.case_name(p->name) : p->name), p->grad());
    }
  }
  return results;
}

OpDef composite_op_def(const std::string& name, CaseBuilder build, std::vector<OpCase> cases) {
  OpDef def;
  def.name = name;
  // A composite runs its modules' ops with the request as given: the naive or
  // the fast variant of every op inside, on each device.
  def.implementations = {{DeviceType::CPU, Impl::Fast, VariantKind::Fast, "cpu_fast"},
                         {DeviceType::CPU, Impl::Naive, VariantKind::Naive, "cpu_naive"}};
  if (CUDL_WITH_CUDA) {
    def.implementations.push_back({DeviceType::CUDA, Impl::Fast, VariantKind::Fast, "cuda_fast"});
    def.implementations.push_back({DeviceType::CUDA, Impl::Naive, VariantKind::Naive, "cuda_naive"});
  }
  def.run = [build](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    return run_composite(build, in, attrs, device, impl, backward);
  };
  // The module is built once, untimed; each timed call runs the graph's forward
  // and, for backward, the forward that records it too (the graph is consumed).
  def.make_timed = [build](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const Device device = ws.begin()->second.device();
    auto c = std::make_shared<CompositeCase>(build(ws, attrs, device));
    return [c, impl, backward, device] {
      ImplScope scope(impl);
      const Var out = c->forward();
      if (backward) out.backward(Tensor::full(out.shape(), 1.0f, device));
    };
  };
  def.cases = std::move(cases);
  return def;
}

using K = InputSpec::Kind;

// multi_head_attention's parameters are wq, bq, ... rather than state_dict names.
std::string mha_case_name(const std::string& state_name) {
  const std::string module = state_name.substr(0, state_name.find('.'));
  const char kind = state_name.ends_with("weight") ? 'w' : 'b';
  const std::string letter = module == "proj" ? "p" : module.substr(0, 1);
  return std::string(1, kind) + letter;
}

}  // namespace

OpDef multi_head_attention_op_def() {
  auto build = [](const TensorMap& in, const Attrs& attrs, Device device) {
    CompositeCase c;
    Generator gen(0);
    const std::int64_t embed = input_on("multi_head_attention", in, "wq", Device::cpu()).size(0);
    auto m = std::make_unique<MultiHeadAttention>(embed, attrs.get_int("multi_head_attention", "num_heads"), gen);
    load_parameters(*m, in, mha_case_name);
    m->to(device);
    MultiHeadAttention* mha = m.get();
    const Var q = input_var(c, in, "query", device), k = input_var(c, in, "key", device),
              v = input_var(c, in, "value", device);
    const Tensor* mask = optional_mask(c, in, "attn_mask", device);
    c.forward = [mha, q, k, v, mask] { return mha->forward(q, k, v, mask); };
    c.case_name = mha_case_name;
    c.module = std::move(m);
    return c;
  };
  auto params = [](std::int64_t e) {
    std::vector<InputSpec> s;
    for (const char* w : {"wq", "wk", "wv", "wp"}) s.push_back({w, {e, e}, K::Normal});
    for (const char* b : {"bq", "bk", "bv", "bp"}) s.push_back({b, {e}, K::Normal});
    return s;
  };
  auto with = [&](std::vector<InputSpec> a, std::int64_t e) {
    for (InputSpec& s : params(e)) a.push_back(s);
    return a;
  };
  return composite_op_def(
      "multi_head_attention", build,
      {{"self_masked",
        with({{"query", {2, 5, 8}, K::Normal}, {"key", {2, 5, 8}, K::Normal}, {"value", {2, 5, 8}, K::Normal},
              {"attn_mask", {5, 5}, K::Mask}},
             8),
        {{"num_heads", "2"}}},
       {"cross",
        with({{"query", {3, 4, 16}, K::Normal}, {"key", {3, 7, 16}, K::Normal}, {"value", {3, 7, 16}, K::Normal}}, 16),
        {{"num_heads", "4"}}}});
}

OpDef transformer_decoder_layer_op_def() {
  auto build = [](const TensorMap& in, const Attrs& attrs, Device device) {
    CompositeCase c;
    Generator gen(0);
    const Tensor fc1 = input_on("transformer_decoder_layer", in, "ffn.fc1.weight", Device::cpu());
    auto m = std::make_unique<TransformerDecoderLayer>(
        fc1.size(1), attrs.get_int("transformer_decoder_layer", "num_heads"), fc1.size(0), gen,
        static_cast<float>(attrs.get_float("transformer_decoder_layer", "eps", 1e-5)));
    load_parameters(*m, in, nullptr);
    m->to(device);
    TransformerDecoderLayer* layer = m.get();
    const Var tgt = input_var(c, in, "tgt", device), memory = input_var(c, in, "memory", device);
    const Tensor* mask = optional_mask(c, in, "tgt_mask", device);
    c.forward = [layer, tgt, memory, mask] { return layer->forward(tgt, memory, mask); };
    c.module = std::move(m);
    return c;
  };
  auto spec = [](std::int64_t t, std::int64_t s, std::int64_t e, std::int64_t f) {
    std::vector<InputSpec> v = {{"tgt", {2, t, e}, K::Normal}, {"memory", {2, s, e}, K::Normal},
                                {"tgt_mask", {t, t}, K::Mask}};
    for (const char* attn : {"self_attn", "cross_attn"})
      for (const char* lin : {"key", "query", "value", "proj"}) {
        v.push_back({std::string(attn) + "." + lin + ".weight", {e, e}, K::Normal});
        v.push_back({std::string(attn) + "." + lin + ".bias", {e}, K::Normal});
      }
    v.push_back({"ffn.fc1.weight", {f, e}, K::Normal});
    v.push_back({"ffn.fc1.bias", {f}, K::Normal});
    v.push_back({"ffn.fc2.weight", {e, f}, K::Normal});
    v.push_back({"ffn.fc2.bias", {e}, K::Normal});
    for (const char* norm : {"norm_self", "norm_cross", "norm_ffn"}) {
      v.push_back({std::string(norm) + ".weight", {e}, K::Positive});
      v.push_back({std::string(norm) + ".bias", {e}, K::Normal});
    }
    return v;
  };
  return composite_op_def("transformer_decoder_layer", build,
                          {{"small", spec(5, 3, 8, 16), {{"num_heads", "2"}, {"eps", "1e-05"}}},
                           {"captioner", spec(16, 16, 64, 256), {{"num_heads", "4"}, {"eps", "1e-05"}}}});
}

OpDef unet_resnet_block_op_def() {
  auto build = [](const TensorMap& in, const Attrs& attrs, Device device) {
    CompositeCase c;
    Generator gen(0);
    const Tensor conv1 = input_on("unet_resnet_block", in, "block1.conv.weight", Device::cpu());
    const Tensor mlp = input_on("unet_resnet_block", in, "mlp.weight", Device::cpu());
    auto m = std::make_unique<ResnetBlock>(conv1.size(1), conv1.size(0), mlp.size(1),
                                           attrs.get_int("unet_resnet_block", "groups"), gen,
                                           static_cast<float>(attrs.get_float("unet_resnet_block", "eps", 1e-5)));
    load_parameters(*m, in, nullptr);
    m->to(device);
    ResnetBlock* block = m.get();
    const Var x = input_var(c, in, "x", device), temb = input_var(c, in, "temb", device);
    c.forward = [block, x, temb] { return block->forward(x, temb); };
    c.module = std::move(m);
    return c;
  };
  auto spec = [](std::int64_t n, std::int64_t cin, std::int64_t cout, std::int64_t hw, std::int64_t d) {
    std::vector<InputSpec> v = {{"x", {n, cin, hw, hw}, K::Normal},
                                {"temb", {n, d}, K::Normal},
                                {"mlp.weight", {2 * cout, d}, K::Normal},
                                {"mlp.bias", {2 * cout}, K::Normal},
                                {"block1.conv.weight", {cout, cin, 3, 3}, K::Normal},
                                {"block1.conv.bias", {cout}, K::Normal},
                                {"block1.norm.weight", {cout}, K::Positive},
                                {"block1.norm.bias", {cout}, K::Normal},
                                {"block2.conv.weight", {cout, cout, 3, 3}, K::Normal},
                                {"block2.conv.bias", {cout}, K::Normal},
                                {"block2.norm.weight", {cout}, K::Positive},
                                {"block2.norm.bias", {cout}, K::Normal}};
    if (cin != cout) {
      v.push_back({"res_conv.weight", {cout, cin, 1, 1}, K::Normal});
      v.push_back({"res_conv.bias", {cout}, K::Normal});
    }
    return v;
  };
  return composite_op_def("unet_resnet_block", build,
                          {{"widen", spec(2, 4, 8, 6, 12), {{"groups", "2"}, {"eps", "1e-05"}}},
                           {"same_width", spec(2, 8, 8, 5, 16), {{"groups", "4"}, {"eps", "1e-05"}}},
                           {"unet_32", spec(8, 64, 64, 16, 256), {{"groups", "8"}, {"eps", "1e-05"}}}});
}

OpDef spatial_attention_op_def() {
  auto build = [](const TensorMap& in, const Attrs& attrs, Device device) {
    CompositeCase c;
    Generator gen(0);
    const Tensor x = input_on("spatial_attention", in, "x", Device::cpu());
    auto m = std::make_unique<SpatialAttention>(x.size(1), attrs.get_int("spatial_attention", "num_heads"),
                                                attrs.get_int("spatial_attention", "groups"), gen,
                                                static_cast<float>(attrs.get_float("spatial_attention", "eps", 1e-5)));
    load_parameters(*m, in, nullptr);
    m->to(device);
    SpatialAttention* attn = m.get();
    const Var xv = input_var(c, in, "x", device);
    c.forward = [attn, xv] { return attn->forward(xv); };
    c.module = std::move(m);
    return c;
  };
  auto spec = [](std::int64_t n, std::int64_t ch, std::int64_t hw) {
    return std::vector<InputSpec>{{"x", {n, ch, hw, hw}, K::Normal},
                                  {"norm.weight", {ch}, K::Positive},
                                  {"norm.bias", {ch}, K::Normal},
                                  {"to_qkv.weight", {3 * ch, ch}, K::Normal},
                                  {"to_out.weight", {ch, ch}, K::Normal},
                                  {"to_out.bias", {ch}, K::Normal}};
  };
  return composite_op_def("spatial_attention", build,
                          {{"small", spec(2, 8, 3), {{"num_heads", "2"}, {"groups", "2"}, {"eps", "1e-05"}}},
                           {"unet_8x8", spec(4, 64, 8), {{"num_heads", "4"}, {"groups", "8"}, {"eps", "1e-05"}}}});
}

}  // namespace cudl
