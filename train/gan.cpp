#include "train/gan.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "autograd/functions.h"
#include "autograd/tensor_ops.h"
#include "core/check.h"
#include "core/formats/json.h"
#include "core/formats/safetensors.h"
#include "core/random.h"
#include "train/checkpoint.h"
#include "train/step.h"

namespace cudl {

namespace {

const char* kGeneratorPrefix = "generator.";
const char* kDiscriminatorPrefix = "discriminator.";
const char* kGeneratorOptimizerPrefix = "generator_optimizer.";
const char* kDiscriminatorOptimizerPrefix = "discriminator_optimizer.";
const char* kStateKey = "cudl_gan_state";

// [rows, 1] targets on `device`: `ones` ones, then zeros.
Tensor targets(std::int64_t rows, std::int64_t ones, Device device) {
  Tensor t = Tensor::zeros({rows, 1}, DType::F32, device);
  if (ones > 0) t.slice(0, ones).fill(1.0f);
  return t;
}

void check_scores(const char* op, const Var& scores) {
  CUDL_CHECK(scores.dim() == 2 && scores.size(1) == 1 && scores.size(0) > 0, op,
             ": expected discriminator scores [N, 1], got ", scores.value().str());
}

// Freezes a module for its scope: gradients still flow through it to its inputs.
class FrozenScope {
 public:
  explicit FrozenScope(Module& module) : module_(module) { module_.set_requires_grad(false); }
  ~FrozenScope() { module_.set_requires_grad(true); }
  FrozenScope(const FrozenScope&) = delete;
  FrozenScope& operator=(const FrozenScope&) = delete;

 private:
  Module& module_;
};

Dataset scaled_training_images(Dataset images, std::int64_t batch_size) {
  const Tensor& x = images.images;
  CUDL_CHECK(x.defined() && x.dim() == 4 && x.size(1) == 1 && x.size(2) == kGanImageSide &&
                 x.size(3) == kGanImageSide,
             "gan: expected grey ", kGanImageSide, "x", kGanImageSide, " images [N, 1, ", kGanImageSide, ", ",
             kGanImageSide, "], got ", x.defined() ? x.str() : std::string("none"));
  CUDL_CHECK(images.size() >= batch_size, "gan: ", images.size(), " training images are fewer than one batch of ",
             batch_size);
  float* p = images.images.data<float>();
  for (std::int64_t i = 0; i < images.images.numel(); ++i) p[i] = 2.0f * p[i] - 1.0f;  // CS231n's preprocess_img
  return images;
}

OptimizerConfig adam_config(const GanOptions& o) {
  OptimizerConfig c;
  c.lr = o.lr;
  c.beta1 = o.beta1;
  c.beta2 = o.beta2;
  return c;
}

TensorMap gan_tensors(Module& generator, Module& discriminator) {
  TensorMap tensors;
  add_prefixed(tensors, kGeneratorPrefix, model_state_dict(generator));
  add_prefixed(tensors, kDiscriminatorPrefix, model_state_dict(discriminator));
  return tensors;
}

std::map<std::string, std::string> info_metadata(const GanCheckpointInfo& info) {
  return {{"model", info.model},
          {"loss", gan_loss_name(info.loss)},
          {"noise_dim", std::to_string(info.noise_dim)},
          {"iteration", std::to_string(info.iteration)}};
}

GanCheckpointInfo info_from_metadata(const std::map<std::string, std::string>& metadata, const std::string& path) {
  constexpr const char* kExpected = "expected a GAN checkpoint of `cudl train gan` (model fc or dcgan)";
  auto meta = [&](const char* key) -> const std::string& {
    const auto it = metadata.find(key);
    CUDL_CHECK(it != metadata.end(), "checkpoint ", path, ": no '", key, "' in __metadata__; ", kExpected);
    return it->second;
  };
  GanCheckpointInfo info;
  info.model = meta("model");
  CUDL_CHECK(info.model == "fc" || info.model == "dcgan", "checkpoint ", path, " holds a '", info.model, "' model; ",
             kExpected);
  info.loss = parse_gan_loss(meta("loss"));
  try {
    info.noise_dim = std::stoll(meta("noise_dim"));
    info.iteration = std::stoll(meta("iteration"));
  } catch (const std::logic_error&) {
    detail::throw_error("checkpoint ", path, ": noise_dim '", meta("noise_dim"), "' or iteration '",
                        meta("iteration"), "' is not an integer");
  }
  return info;
}

}  // namespace

GanLoss parse_gan_loss(const std::string& name) {
  if (name == "vanilla") return GanLoss::Vanilla;
  if (name == "ls") return GanLoss::LeastSquares;
  detail::throw_error("gan: unknown loss '", name, "' (expected vanilla or ls)");
}

const char* gan_loss_name(GanLoss loss) { return loss == GanLoss::Vanilla ? "vanilla" : "ls"; }

Var discriminator_loss(GanLoss loss, const Var& scores) {
  check_scores("discriminator_loss", scores);
  const std::int64_t rows = scores.size(0);
  CUDL_CHECK(rows % 2 == 0, "discriminator_loss: expected scores of N real then N fake images, got ", rows, " rows");
  const Tensor target = targets(rows, rows / 2, scores.device());
  if (loss == GanLoss::Vanilla) return bce_with_logits(scores, target) * 2.0f;
  return mse_loss(scores, target);
}

Var generator_loss(GanLoss loss, const Var& fake_scores) {
  check_scores("generator_loss", fake_scores);
  const Tensor target = targets(fake_scores.size(0), fake_scores.size(0), fake_scores.device());
  if (loss == GanLoss::Vanilla) return bce_with_logits(fake_scores, target);
  return mse_loss(fake_scores, target) * 0.5f;
}

Tensor sample_noise(std::int64_t n, std::int64_t dim, Generator& gen, Device device) {
  Tensor z = Tensor::empty({n, dim}, DType::F32, device);
  fill_uniform(z, gen, -1.0f, 1.0f);
  return z;
}

Tensor generate_images(Sequential& generator, const Tensor& noise) {
  CUDL_CHECK(noise.dim() == 2, "generate_images: expected noise [N, noise_dim], got ", noise.str());
  const bool was_training = generator.training();
  generator.set_training(false);
  Tensor images;
  {
    NoGradGuard no_grad;
    const Var out = generator.forward(Var(noise.view()));
    images = out.value().reshape({noise.size(0), 1, kGanImageSide, kGanImageSide}).to(Device::cpu());
  }
  generator.set_training(was_training);
  return images;
}

// ---- the trainer ----
GanTrainer::GanTrainer(Dataset images, GanOptions options)
    : images_(scaled_training_images(std::move(images), options.batch_size)),
      options_(std::move(options)),
      rng_(options_.seed),
      discriminator_(build_gan_discriminator(options_.model, rng_, options_.device)),
      generator_(build_gan_generator(options_.model, options_.noise_dim, rng_, options_.device)),
      opt_d_(make_optimizer("adam", discriminator_->parameters(), adam_config(options_))),
      opt_g_(make_optimizer("adam", generator_->parameters(), adam_config(options_))),
      loader_(images_, {.batch_size = options_.batch_size,
                        .shuffle = true,
                        .seed = options_.seed,
                        .drop_last = true,
                        .augment = {},
                        .device = options_.device}),
      sample_noise_(sample_noise(options_.sample_count, options_.noise_dim, rng_, options_.device)) {}

GanTrainer::~GanTrainer() = default;

float GanTrainer::discriminator_step(const Tensor& real) {
  const std::int64_t b = real.size(0);
  CUDL_CHECK(real.numel() == b * kGanImageSize, "GanTrainer: expected a real batch of ", kGanImageSize,
             " values per image, got ", real.str());
  Tensor fake;
  {
    NoGradGuard no_grad;  // the fakes are data to D: no graph back into G
    const Var out = generator_->forward(Var(sample_noise(b, options_.noise_dim, rng_, options_.device)));
    fake = out.value().view();
  }
  Tensor both = Tensor::empty({2 * b, kGanImageSize}, DType::F32, options_.device);
  both.slice(0, b).copy_from(real.reshape({b, kGanImageSize}));
  both.slice(b, 2 * b).copy_from(fake);
  return checked(optimization_step({opt_d_.get()}, [&] {
                   return discriminator_loss(options_.loss, discriminator_->forward(Var(both.view())));
                 }),
                 "discriminator");
}

float GanTrainer::generator_step() {
  const FrozenScope frozen(*discriminator_);
  return checked(optimization_step({opt_g_.get()}, [&] {
                   const Var fake = generator_->forward(
                       Var(sample_noise(options_.batch_size, options_.noise_dim, rng_, options_.device)));
                   return generator_loss(options_.loss, discriminator_->forward(fake));
                 }),
                 "generator");
}

float GanTrainer::checked(const StepResult& r, const char* net) const {
  CUDL_CHECK(r.nonfinite.empty(), "GanTrainer: iteration ", iteration_ + 1, ", the ", net, " step: ", r.nonfinite,
             " (lower the learning rate)");
  return r.loss;
}

GanLosses GanTrainer::step() {
  std::optional<Batch> batch = loader_.next();
  if (!batch) batch = loader_.next();  // the call that ends an epoch moves to the next
  GanLosses losses;
  losses.discriminator = discriminator_step(batch->images);
  losses.generator = generator_step();
  d_losses_.push_back(losses.discriminator);
  g_losses_.push_back(losses.generator);
  ++iteration_;
  return losses;
}

Tensor GanTrainer::samples() { return generate_images(*generator_, sample_noise_); }

void GanTrainer::save_checkpoint(const std::string& path) {
  save_gan_checkpoint(path, *generator_, *discriminator_,
                      {options_.model, options_.loss, options_.noise_dim, iteration_});
}

void GanTrainer::save_state(const std::string& path) {
  TensorMap tensors = gan_tensors(*generator_, *discriminator_);
  add_prefixed(tensors, kGeneratorOptimizerPrefix, opt_g_->state_dict());
  add_prefixed(tensors, kDiscriminatorOptimizerPrefix, opt_d_->state_dict());
  tensors.emplace("sample_noise", sample_noise_.to(Device::cpu()));
  const auto history = [](const std::vector<float>& v) {
    return Tensor::from_vector(v, {static_cast<std::int64_t>(v.size())});
  };
  tensors.emplace("discriminator_losses", history(d_losses_));
  tensors.emplace("generator_losses", history(g_losses_));
  std::map<std::string, std::string> metadata =
      info_metadata({options_.model, options_.loss, options_.noise_dim, iteration_});
  // Integers above 2^53 (seeds, offsets) are kept exact as decimal strings.
  metadata[kStateKey] = nlohmann::json{{"batch_size", options_.batch_size},
                                       {"rng_seed", std::to_string(rng_.seed())},
                                       {"rng_offset", std::to_string(rng_.offset())},
                                       {"loader_epoch", loader_.state().epoch},
                                       {"loader_position", loader_.state().position}}
                            .dump();
  write_safetensors(path, tensors, metadata);
}

void GanTrainer::load_state(const std::string& path) {
  const SafetensorsFile file = read_safetensors(path);
  const auto state = file.metadata.find(kStateKey);
  CUDL_CHECK(state != file.metadata.end(), "training state ", path, ": no '", kStateKey,
             "' in __metadata__ (not the state.safetensors of `cudl train gan`?)");
  const GanCheckpointInfo info = info_from_metadata(file.metadata, path);
  CUDL_CHECK(info.model == options_.model, "training state ", path, " is of model ", info.model, ", this run trains ",
             options_.model);
  CUDL_CHECK(info.loss == options_.loss, "training state ", path, " was trained with loss ", gan_loss_name(info.loss),
             ", this run uses ", gan_loss_name(options_.loss));
  CUDL_CHECK(info.noise_dim == options_.noise_dim, "training state ", path, " has noise_dim ", info.noise_dim,
             ", this run uses noise_dim ", options_.noise_dim);
  try {
    const nlohmann::json s = formats::parse_json(state->second, "training state " + path);
    CUDL_CHECK(s.at("batch_size").get<std::int64_t>() == options_.batch_size, "training state ", path,
               " was saved with batch size ", s.at("batch_size").get<std::int64_t>(), ", this run uses ",
               options_.batch_size);
    load_model_state(*generator_, file.tensors, kGeneratorPrefix);
    load_model_state(*discriminator_, file.tensors, kDiscriminatorPrefix);
    opt_g_->load_state_dict(entries_under(file.tensors, kGeneratorOptimizerPrefix));
    opt_d_->load_state_dict(entries_under(file.tensors, kDiscriminatorOptimizerPrefix));
    const auto tensor = [&](const char* name) -> const Tensor& {
      const auto it = file.tensors.find(name);
      CUDL_CHECK(it != file.tensors.end(), "training state ", path, ": no tensor '", name, "'");
      return it->second;
    };
    CUDL_CHECK(tensor("sample_noise").shape() == sample_noise_.shape(), "training state ", path, ": sample_noise is ",
               tensor("sample_noise").str(), ", expected ", shape_str(sample_noise_.shape()));
    sample_noise_.copy_from(tensor("sample_noise"));
    d_losses_ = tensor("discriminator_losses").to_vector();
    g_losses_ = tensor("generator_losses").to_vector();
    iteration_ = info.iteration;
    rng_ = Generator(std::stoull(s.at("rng_seed").get<std::string>()),
                     std::stoull(s.at("rng_offset").get<std::string>()));
    loader_.set_state({s.at("loader_epoch").get<std::int64_t>(), s.at("loader_position").get<std::int64_t>()});
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error("training state ", path, ": bad metadata: ", e.what());
  }
}

// ---- checkpoints ----
void save_gan_checkpoint(const std::string& path, Module& generator, Module& discriminator,
                         const GanCheckpointInfo& info) {
  write_safetensors(path, gan_tensors(generator, discriminator), info_metadata(info));
}

LoadedGan load_gan_checkpoint(const std::string& path, Device device) {
  const SafetensorsFile file = read_safetensors(path);
  LoadedGan out;
  out.info = info_from_metadata(file.metadata, path);
  Generator unused(0);  // the parameters are overwritten from the file
  out.generator = build_gan_generator(out.info.model, out.info.noise_dim, unused, device);
  out.discriminator = build_gan_discriminator(out.info.model, unused, device);
  load_model_state(*out.generator, file.tensors, kGeneratorPrefix);
  load_model_state(*out.discriminator, file.tensors, kDiscriminatorPrefix);
  return out;
}

}  // namespace cudl
