#include "models/unet.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "autograd/functions.h"
#include "autograd/tensor_ops.h"
#include "core/check.h"
#include "core/formats/json.h"
#include "core/random.h"
#include "data/caption.h"
#include "kernels/timestep_embedding.h"
#include "layers/activation.h"

namespace cudl {

std::string UNetConfig::to_json() const {
  return nlohmann::json{{"in_channels", in_channels},
                        {"out_channels", out_channels},
                        {"image_size", image_size},
                        {"width", width},
                        {"multipliers", multipliers},
                        {"num_res_blocks", num_res_blocks},
                        {"attention_resolutions", attention_resolutions},
                        {"groups", groups},
                        {"heads", heads},
                        {"num_classes", num_classes},
                        {"vocab_size", vocab_size}}
      .dump();
}

UNetConfig UNetConfig::from_json(const std::string& text) {
  const nlohmann::json j = formats::parse_json(text, "unet config");
  try {
    UNetConfig c;
    c.in_channels = j.at("in_channels");
    c.out_channels = j.at("out_channels");
    c.image_size = j.at("image_size");
    c.width = j.at("width");
    c.multipliers = j.at("multipliers").get<std::vector<std::int64_t>>();
    c.num_res_blocks = j.at("num_res_blocks");
    c.attention_resolutions = j.at("attention_resolutions").get<std::vector<std::int64_t>>();
    c.groups = j.at("groups");
    c.heads = j.at("heads");
    c.num_classes = j.at("num_classes");
    c.vocab_size = j.value("vocab_size", std::int64_t{0});  // absent in class-conditional checkpoints before it
    return c;
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error("unet config: ", e.what());
  }
}

namespace {

void check_config(const UNetConfig& c) {
  CUDL_CHECK(c.in_channels >= 1 && c.out_channels >= 1, "UNet: expected in/out channels >= 1, got ", c.in_channels,
             " and ", c.out_channels);
  CUDL_CHECK(c.width >= 4 && c.width % 2 == 0, "UNet: expected an even width >= 4 (the sinusoid's size), got ",
             c.width);
  CUDL_CHECK(!c.multipliers.empty() && c.levels() <= 8, "UNet: expected 1 to 8 multipliers, got ",
             c.multipliers.size());
  CUDL_CHECK(c.num_res_blocks >= 1, "UNet: expected num_res_blocks >= 1, got ", c.num_res_blocks);
  CUDL_CHECK(c.groups >= 1 && c.heads >= 1, "UNet: expected groups and heads >= 1, got ", c.groups, " and ",
             c.heads);
  CUDL_CHECK(c.num_classes >= 0, "UNet: expected num_classes >= 0, got ", c.num_classes);
  CUDL_CHECK(c.vocab_size == 0 || (c.vocab_size > kUnknownToken && c.num_classes == 0),
             "UNet: expected vocab_size 0 or > ", kUnknownToken, " (the special tokens) and no classes beside it, got "
             "vocab_size ", c.vocab_size, " with ", c.num_classes, " classes");
  const std::int64_t reduction = std::int64_t{1} << (c.levels() - 1);
  CUDL_CHECK(c.image_size >= reduction && c.image_size % reduction == 0, "UNet: expected an image size divisible by ",
             reduction, " (", c.levels(), " levels), got ", c.image_size);
  for (std::int64_t m : c.multipliers) {
    CUDL_CHECK(m >= 1, "UNet: expected multipliers >= 1, got ", m);
    const std::int64_t channels = c.width * m;
    CUDL_CHECK(channels % c.groups == 0, "UNet: ", c.groups, " groups do not divide a level's ", channels,
               " channels");
    CUDL_CHECK(channels % c.heads == 0, "UNet: ", c.heads, " heads do not divide a level's ", channels, " channels");
  }
}

bool attends(const UNetConfig& c, std::int64_t level) {
  const std::int64_t resolution = c.image_size >> level;
  return std::find(c.attention_resolutions.begin(), c.attention_resolutions.end(), resolution) !=
         c.attention_resolutions.end();
}

}  // namespace

UNetLevel::UNetLevel() {
  register_module("blocks", &blocks);
  register_module("attns", &attns);
}

void UNetLevel::set_resample(const std::string& conv_name, std::unique_ptr<Conv2d> conv) {
  resample = std::move(conv);
  register_module(conv_name, resample.get());
}

std::string UNetLevel::name() const {
  return "UNetLevel(" + std::to_string(blocks.size()) + " blocks, " + std::to_string(attns.size()) + " attention" +
         (resample ? ", " + resample->name() : std::string()) + ")";
}

UNet::UNet(const UNetConfig& config, std::uint64_t seed, Device device)
    : config_((check_config(config), config)),
      device_(device),
      gen_(seed),
      init_conv_(config.in_channels, config.width, 3, gen_, Conv2dParams{1, 1, 1}, device) {
  const UNetConfig& c = config_;
  const std::int64_t temb = c.time_dim();
  time_mlp_.emplace<Linear>(c.width, temb, gen_, device);
  time_mlp_.emplace<SiLU>();
  time_mlp_.emplace<Linear>(temb, temb, gen_, device);
  register_module("time_mlp", &time_mlp_);
  if (c.num_classes > 0) {
    class_emb_ = std::make_unique<Embedding>(c.num_classes + 1, temb, gen_, device);
    register_module("class_emb", class_emb_.get());
  }
  if (c.vocab_size > 0) {
    text_emb_ = std::make_unique<Embedding>(c.vocab_size, temb, gen_, device);
    register_module("text_emb", text_emb_.get());
  }
  register_module("init_conv", &init_conv_);

  // Down: level i maps to width * multipliers[i]; every block's output is a skip.
  std::vector<std::int64_t> skip_channels;
  std::int64_t channels = c.width;
  for (std::int64_t i = 0; i < c.levels(); ++i) {
    UNetLevel& level = downs_.append(std::make_unique<UNetLevel>());
    const std::int64_t out = c.width * c.multipliers[i];
    for (std::int64_t b = 0; b < c.num_res_blocks; ++b) {
      level.blocks.append(std::make_unique<ResnetBlock>(channels, out, temb, c.groups, gen_, 1e-5f, device));
      if (attends(c, i)) level.attns.append(std::make_unique<SpatialAttention>(out, c.heads, c.groups, gen_, 1e-5f, device));
      channels = out;
      skip_channels.push_back(out);
    }
    if (i + 1 < c.levels())
      level.set_resample("downsample",
                         std::make_unique<Conv2d>(channels, channels, 3, gen_, Conv2dParams{2, 1, 1}, device));
  }
  register_module("downs", &downs_);

  mid_block1_ = std::make_unique<ResnetBlock>(channels, channels, temb, c.groups, gen_, 1e-5f, device);
  mid_attn_ = std::make_unique<SpatialAttention>(channels, c.heads, c.groups, gen_, 1e-5f, device);
  mid_block2_ = std::make_unique<ResnetBlock>(channels, channels, temb, c.groups, gen_, 1e-5f, device);
  register_module("mid_block1", mid_block1_.get());
  register_module("mid_attn", mid_attn_.get());
  register_module("mid_block2", mid_block2_.get());

  // Up: the levels in reverse, each block taking the latest skip on top of h.
  for (std::int64_t i = c.levels() - 1; i >= 0; --i) {
    UNetLevel& level = ups_.append(std::make_unique<UNetLevel>());
    const std::int64_t out = c.width * c.multipliers[i];
    for (std::int64_t b = 0; b < c.num_res_blocks; ++b) {
      const std::int64_t skip = skip_channels.back();
      skip_channels.pop_back();
      level.blocks.append(std::make_unique<ResnetBlock>(channels + skip, out, temb, c.groups, gen_, 1e-5f, device));
      if (attends(c, i)) level.attns.append(std::make_unique<SpatialAttention>(out, c.heads, c.groups, gen_, 1e-5f, device));
      channels = out;
    }
    if (i > 0)
      level.set_resample("upsample_conv",
                         std::make_unique<Conv2d>(channels, channels, 3, gen_, Conv2dParams{1, 1, 1}, device));
  }
  register_module("ups", &ups_);

  final_norm_ = std::make_unique<GroupNorm>(c.groups, channels, 1e-5f, device);
  final_conv_ = std::make_unique<Conv2d>(channels, c.out_channels, 1, gen_, Conv2dParams{}, device);
  register_module("final_norm", final_norm_.get());
  register_module("final_conv", final_conv_.get());
}

Var UNet::time_embedding(const Tensor& t, const Tensor* condition, std::int64_t batch) {
  CUDL_CHECK(t.dtype() == DType::I64 && t.dim() == 1 && t.size(0) == batch, "UNet: expected t int64 [", batch,
             "], got ", t.str());
  Var temb = time_mlp_.forward(Var(timestep_embedding(t, config_.width)));
  if (text_emb_) return temb + caption_embedding(condition, batch, t.device());
  if (!class_emb_) {
    CUDL_CHECK(condition == nullptr, "UNet: a condition given to an unconditional model");
    return temb;
  }
  if (condition != nullptr) {
    CUDL_CHECK(condition->dtype() == DType::I64 && condition->dim() == 1 && condition->size(0) == batch,
               "UNet: expected class ids int64 [", batch, "], got ", condition->str());
    return temb + class_emb_->forward(*condition);  // the embedding checks the range [0, num_classes]
  }
  const std::vector<std::int64_t> null_ids(static_cast<std::size_t>(batch), config_.num_classes);
  return temb + class_emb_->forward(Tensor::from_vector(null_ids, {batch}, t.device()));
}

// mean_l text_emb[tokens[n, l]] over the tokens that are not <NULL>, as
// torch's (text_emb(tokens) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).
// The null condition is the empty caption, <START> <END>.
Var UNet::caption_embedding(const Tensor* tokens, std::int64_t batch, Device device) {
  Tensor ids;
  if (tokens != nullptr) {
    CUDL_CHECK(tokens->dtype() == DType::I64 && tokens->dim() == 2 && tokens->size(0) == batch && tokens->size(1) >= 1,
               "UNet: expected caption tokens int64 [", batch, ", L], got ", tokens->str());
    ids = tokens->to(Device::cpu());
  } else {
    std::vector<std::int64_t> empty;
    for (std::int64_t n = 0; n < batch; ++n) empty.insert(empty.end(), {kStartToken, kEndToken});
    ids = Tensor::from_vector(empty, {batch, 2});
  }
  const std::int64_t length = ids.size(1);
  Tensor mask = Tensor::zeros({batch, length, 1}), count = Tensor::zeros({batch, 1});
  const std::int64_t* id = ids.data<std::int64_t>();
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t l = 0; l < length; ++l)
      if (id[n * length + l] != kNullToken) mask.data<float>()[n * length + l] = 1.0f;
    for (std::int64_t l = 0; l < length; ++l) count.data<float>()[n] += mask.data<float>()[n * length + l];
    CUDL_CHECK(count.data<float>()[n] > 0, "UNet: caption row ", n, " holds only <NULL> padding (the empty caption is "
               "<START> <END>)");
  }
  const Var words = text_emb_->forward(ids.to(device));  // checks the range [0, vocab_size)
  return div(sum(mul(words, Var(mask.to(device))), {1}), Var(count.to(device)));
}

Var UNet::forward(const Var& x, const Tensor& t, const Tensor* condition) {
  const UNetConfig& c = config_;
  CUDL_CHECK(x.dim() == 4 && x.size(1) == c.in_channels && x.size(2) == c.image_size && x.size(3) == c.image_size,
             "UNet: expected x [N, ", c.in_channels, ", ", c.image_size, ", ", c.image_size, "], got ", x.value().str());
  const Var temb = time_embedding(t, condition, x.size(0));

  Var h = init_conv_.forward(x);
  std::vector<Var> skips;
  for (UNetLevel* level : downs_) {
    for (std::size_t b = 0; b < level->blocks.size(); ++b) {
      h = level->blocks[b].forward(h, temb);
      if (level->attns.size() > 0) h = level->attns[b].forward(h);
      skips.push_back(h);
    }
    if (level->resample) h = level->resample->forward(h);
  }
  h = mid_block2_->forward(mid_attn_->forward(mid_block1_->forward(h, temb)), temb);
  for (UNetLevel* level : ups_) {
    for (std::size_t b = 0; b < level->blocks.size(); ++b) {
      h = level->blocks[b].forward(concat({h, skips.back()}, 1), temb);
      skips.pop_back();
      if (level->attns.size() > 0) h = level->attns[b].forward(h);
    }
    if (level->resample) h = level->resample->forward(upsample_nearest2d(h, 2));
  }
  return final_conv_->forward(silu(final_norm_->forward(h)));
}

Denoiser UNet::denoiser() {
  return [this](const Var& x_t, const Tensor& t, const Tensor* cond) { return forward(x_t, t, cond); };
}

std::string UNet::name() const {
  std::string widths;
  for (std::int64_t m : config_.multipliers) widths += (widths.empty() ? "" : ", ") + std::to_string(config_.width * m);
  return "UNet(" + std::to_string(config_.in_channels) + " -> " + std::to_string(config_.out_channels) + ", " +
         std::to_string(config_.image_size) + "x" + std::to_string(config_.image_size) + ", widths [" + widths +
         "], " + std::to_string(config_.num_res_blocks) + " blocks per level" +
         (config_.num_classes > 0 ? ", " + std::to_string(config_.num_classes) + " classes" : std::string()) +
         (config_.vocab_size > 0 ? ", captions of " + std::to_string(config_.vocab_size) + " tokens" : std::string()) + ")";
}

void UNet::to(Device device) {
  Module::to(device);
  device_ = device;
}

}  // namespace cudl
