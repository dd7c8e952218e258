#include "models/captioner.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "autograd/functions.h"
#include "autograd/tensor_ops.h"
#include "core/check.h"
#include "core/formats/json.h"
#include "core/random.h"
#include "data/caption.h"
#include "layers/activation.h"
#include "layers/conv.h"
#include "layers/shape.h"

namespace cudl {

std::string CaptionerConfig::to_json() const {
  return nlohmann::json{{"vocab_size", vocab_size},   {"input_shape", input_shape}, {"wordvec_dim", wordvec_dim},
                        {"num_heads", num_heads},     {"num_layers", num_layers},   {"feedforward", feedforward},
                        {"max_length", max_length},   {"encoder_channels", encoder_channels}}
      .dump();
}

CaptionerConfig CaptionerConfig::from_json(const std::string& text) {
  try {
    const nlohmann::json j = formats::parse_json(text, "captioner config");
    CaptionerConfig c;
    c.vocab_size = j.at("vocab_size");
    c.input_shape = j.at("input_shape").get<Shape>();
    c.wordvec_dim = j.at("wordvec_dim");
    c.num_heads = j.at("num_heads");
    c.num_layers = j.at("num_layers");
    c.feedforward = j.at("feedforward");
    c.max_length = j.at("max_length");
    c.encoder_channels = j.at("encoder_channels").get<std::vector<std::int64_t>>();
    return c;
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error("captioner config: ", e.what());
  }
}

namespace {
void check_config(const CaptionerConfig& c) {
  CUDL_CHECK(c.vocab_size > 4, "CaptioningTransformer: expected a vocabulary beyond the 4 special tokens, got ",
             c.vocab_size);
  CUDL_CHECK(c.input_shape.size() == 1 || c.input_shape.size() == 3,
             "CaptioningTransformer: expected inputs [D] (features) or [C, H, W] (images), got ",
             shape_str(c.input_shape));
  CUDL_CHECK(c.wordvec_dim > 0 && c.num_layers >= 1 && c.max_length >= 2 && c.feedforward > 0,
             "CaptioningTransformer: expected positive widths, num_layers >= 1 and max_length >= 2");
}

// conv3x3-relu-maxpool2 per stage; returns the channels of the last stage.
std::int64_t build_encoder(Sequential& net, const CaptionerConfig& c, Generator& gen, Device device) {
  std::int64_t in = c.input_shape[0], h = c.input_shape[1], w = c.input_shape[2];
  for (std::int64_t out : c.encoder_channels) {
    net.add(std::make_unique<Conv2d>(in, out, 3, gen, Conv2dParams{1, 1, 1}, device));
    net.add(std::make_unique<ReLU>());
    net.add(std::make_unique<MaxPool2d>(2));
    in = out;
    h /= 2;
    w /= 2;
  }
  CUDL_CHECK(h >= 1 && w >= 1, "CaptioningTransformer: ", c.encoder_channels.size(), " pooling stages shrink ",
             shape_str(c.input_shape), " to nothing");
  return in;
}

std::int64_t memory_width(const CaptionerConfig& c) {
  return c.uses_images() ? (c.encoder_channels.empty() ? c.input_shape[0] : c.encoder_channels.back())
                         : c.input_shape[0];
}
}  // namespace

CaptioningTransformer::CaptioningTransformer(const CaptionerConfig& config, std::uint64_t seed, Device device)
    : config_((check_config(config), config)),
      device_(device),
      gen_(seed),
      encoder_(config.uses_images() ? std::make_unique<Sequential>() : nullptr),
      visual_projection_((encoder_ ? build_encoder(*encoder_, config, gen_, device) : 0, memory_width(config)),
                         config.wordvec_dim, gen_, device),
      embedding_(config.vocab_size, config.wordvec_dim, gen_, device, kNullToken, 0.02f),
      output_(config.wordvec_dim, config.vocab_size, gen_, device) {
  if (encoder_) register_module("encoder", encoder_.get());
  register_module("visual_projection", &visual_projection_);
  register_module("embedding", &embedding_);
  for (std::int64_t i = 0; i < config.num_layers; ++i)
    layers_.append(std::make_unique<TransformerDecoderLayer>(config.wordvec_dim, config.num_heads, config.feedforward,
                                                             gen_, 1e-5f, device));
  register_module("layers", &layers_);
  register_module("output", &output_);
  // CS231n's _init_weights, over everything but the encoder and `output` (the
  // embedding initialised itself so).
  auto normal_init = [&](Linear& l) {
    fill_normal(l.weight.value(), gen_, 0.0f, 0.02f);
    if (l.bias.defined()) l.bias.value().zero();
  };
  normal_init(visual_projection_);
  for (TransformerDecoderLayer* layer : layers_) {
    for (MultiHeadAttention* attn : {&layer->self_attn, &layer->cross_attn})
      for (Linear* l : {&attn->key, &attn->query, &attn->value, &attn->proj}) normal_init(*l);
    normal_init(layer->ffn.fc1);
    normal_init(layer->ffn.fc2);
  }
}

Var CaptioningTransformer::encode(const Var& inputs) {
  const Shape& want = config_.input_shape;
  CUDL_CHECK(inputs.dim() == static_cast<std::int64_t>(want.size()) + 1 &&
                 Shape(inputs.shape().begin() + 1, inputs.shape().end()) == want,
             "CaptioningTransformer: expected inputs [N,", shape_str(want).substr(1), ", got ",
             inputs.value().str());
  if (!encoder_) return reshape(visual_projection_.forward(inputs), {inputs.size(0), 1, config_.wordvec_dim});
  const Var f = encoder_->forward(inputs);  // [N, C, h, w]
  const Var tokens = permute(reshape(f, {f.size(0), f.size(1), f.size(2) * f.size(3)}), {0, 2, 1});
  return visual_projection_.forward(tokens);  // [N, h*w, W]
}

const Tensor& CaptioningTransformer::causal_mask(std::int64_t t) {
  if (masks_.size() <= static_cast<std::size_t>(t)) masks_.resize(static_cast<std::size_t>(t) + 1);
  Tensor& mask = masks_[static_cast<std::size_t>(t)];
  if (!mask.defined() || mask.device() != device_) {
    std::vector<float> tril(static_cast<std::size_t>(t * t), 0.0f);
    for (std::int64_t i = 0; i < t; ++i)
      for (std::int64_t j = 0; j <= i; ++j) tril[static_cast<std::size_t>(i * t + j)] = 1.0f;
    mask = Tensor::from_vector(tril, {t, t}, device_);
  }
  return mask;
}

Var CaptioningTransformer::decode(const Var& memory, const Tensor& captions) {
  CUDL_CHECK(captions.dtype() == DType::I64 && captions.dim() == 2, "CaptioningTransformer: expected captions [N, T] int64, got ",
             captions.str());
  CUDL_CHECK(captions.size(1) <= config_.max_length, "CaptioningTransformer: captions of ", captions.size(1),
             " tokens exceed max_length ", config_.max_length);
  CUDL_CHECK(captions.size(0) == memory.size(0), "CaptioningTransformer: ", captions.size(0), " captions for ",
             memory.size(0), " images");
  Var x = positional_encoding(embedding_.forward(captions), config_.max_length);
  const Tensor& mask = causal_mask(captions.size(1));
  for (TransformerDecoderLayer* layer : layers_) x = layer->forward(x, memory, &mask);
  return output_.forward(x);
}

namespace {
// log softmax of one row of scores, in double.
std::vector<double> log_probabilities(const float* row, std::int64_t v) {
  const double top = *std::max_element(row, row + v);
  double sum = 0.0;
  for (std::int64_t i = 0; i < v; ++i) sum += std::exp(row[i] - top);
  std::vector<double> out(static_cast<std::size_t>(v));
  for (std::int64_t i = 0; i < v; ++i) out[static_cast<std::size_t>(i)] = row[i] - top - std::log(sum);
  return out;
}

Tensor prefix_tensor(const std::vector<std::vector<std::int64_t>>& prefixes, Device device) {
  const std::int64_t n = static_cast<std::int64_t>(prefixes.size()), t = static_cast<std::int64_t>(prefixes[0].size());
  std::vector<std::int64_t> flat;
  flat.reserve(static_cast<std::size_t>(n * t));
  for (const auto& p : prefixes) flat.insert(flat.end(), p.begin(), p.end());
  return Tensor::from_vector(flat, {n, t}, device);
}
}  // namespace

std::vector<std::vector<std::int64_t>> CaptioningTransformer::sample_greedy(const Tensor& inputs) {
  NoGradGuard no_grad;
  const bool was_training = training();
  set_training(false);
  const Var memory = encode(Var(inputs.to(device_)));
  const std::int64_t n = memory.size(0), v = config_.vocab_size;
  std::vector<std::vector<std::int64_t>> prefixes(static_cast<std::size_t>(n), {kStartToken});
  std::vector<bool> done(static_cast<std::size_t>(n), false);
  for (std::int64_t step = 1; step < config_.max_length; ++step) {
    const std::vector<float> scores = decode(memory, prefix_tensor(prefixes, device_)).value().to_vector();
    bool all_done = true;
    for (std::int64_t i = 0; i < n; ++i) {
      const float* last = scores.data() + ((i + 1) * step - 1) * v;
      const std::int64_t word = done[i] ? kNullToken : std::max_element(last, last + v) - last;
      prefixes[static_cast<std::size_t>(i)].push_back(word);
      done[i] = done[i] || word == kEndToken;
      all_done = all_done && done[i];
    }
    if (all_done) break;
  }
  set_training(was_training);
  for (auto& p : prefixes) p.erase(p.begin());  // drop <START>
  return prefixes;
}

std::vector<std::vector<std::int64_t>> CaptioningTransformer::sample_beam(const Tensor& inputs, std::int64_t width) {
  CUDL_CHECK(width >= 1, "sample_beam: expected a beam width >= 1, got ", width);
  NoGradGuard no_grad;
  const bool was_training = training();
  set_training(false);
  const Tensor on_device = inputs.to(device_);
  const std::int64_t v = config_.vocab_size;
  std::vector<std::vector<std::int64_t>> results;
  struct Hypothesis {
    std::vector<std::int64_t> ids;  // from <START>
    double log_prob = 0.0;
    double score() const { return log_prob / static_cast<double>(ids.size() - 1); }
  };
  for (std::int64_t image = 0; image < on_device.size(0); ++image) {
    const Var memory = encode(Var(on_device.slice(image, image + 1)));
    std::vector<Hypothesis> beam{{{kStartToken}, 0.0}}, finished;
    for (std::int64_t step = 1; step < config_.max_length && !beam.empty(); ++step) {
      std::vector<std::vector<std::int64_t>> prefixes;
      std::vector<Var> copies;
      for (const Hypothesis& h : beam) {
        prefixes.push_back(h.ids);
        copies.push_back(memory);
      }
      const Var memories = copies.size() == 1 ? memory : concat(copies, 0);
      const std::vector<float> scores = decode(memories, prefix_tensor(prefixes, device_)).value().to_vector();
      std::vector<Hypothesis> candidates;
      for (std::size_t b = 0; b < beam.size(); ++b) {
        const std::vector<double> lp = log_probabilities(scores.data() + ((b + 1) * step - 1) * v, v);
        for (std::int64_t w = kEndToken; w < v; ++w) {  // never <NULL> or <START>
          Hypothesis h = beam[b];
          h.ids.push_back(w);
          h.log_prob += lp[static_cast<std::size_t>(w)];
          candidates.push_back(std::move(h));
        }
      }
      // Each ended hypothesis takes one of the `width` places for good, so the
      // live beam shrinks as captions end and the search stops when none is left.
      const std::size_t places = std::min(candidates.size(), static_cast<std::size_t>(width) - finished.size());
      std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(places), candidates.end(),
                        [](const Hypothesis& a, const Hypothesis& b) { return a.log_prob > b.log_prob; });
      candidates.resize(places);
      beam.clear();
      for (Hypothesis& h : candidates) (h.ids.back() == kEndToken ? finished : beam).push_back(std::move(h));
    }
    for (Hypothesis& h : beam) finished.push_back(std::move(h));  // ran out of length
    const Hypothesis& best = *std::max_element(finished.begin(), finished.end(), [](const Hypothesis& a, const Hypothesis& b) {
      return a.score() < b.score();
    });
    std::vector<std::int64_t> ids(best.ids.begin() + 1, best.ids.end());
    ids.resize(static_cast<std::size_t>(config_.max_length - 1), kNullToken);
    results.push_back(std::move(ids));
  }
  set_training(was_training);
  return results;
}

std::string CaptioningTransformer::name() const {
  return "CaptioningTransformer(vocab=" + std::to_string(config_.vocab_size) + ", width=" +
         std::to_string(config_.wordvec_dim) + ", layers=" + std::to_string(config_.num_layers) +
         ", heads=" + std::to_string(config_.num_heads) + (encoder_ ? ", conv encoder" : ", features") + ")";
}

void CaptioningTransformer::to(Device device) {
  Module::to(device);
  device_ = device;
}

}  // namespace cudl
