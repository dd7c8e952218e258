#include "models/gan.h"

#include "core/check.h"
#include "layers/init.h"
#include "layers/layers.h"

namespace cudl {

namespace {

constexpr float kSlope = 0.01f;  // CS231n's LeakyReLU alpha

void check_model(const std::string& model) {
  CUDL_CHECK(model == "fc" || model == "dcgan", "gan: unknown model '", model, "' (expected fc or dcgan)");
}

// CS231n's initialize_weights: Xavier-uniform weights for Linear and
// ConvTranspose2d, redrawn after construction as torch's net.apply() does. The
// notebook applies it to the DCGAN nets only; the fc nets keep torch.nn's defaults.
void xavier_init(Sequential& net, Generator& gen) {
  for (const auto& [name, child] : net.children()) {
    Parameter* weight = nullptr;
    if (auto* linear = dynamic_cast<Linear*>(child)) weight = &linear->weight;
    if (auto* deconv = dynamic_cast<ConvTranspose2d*>(child)) weight = &deconv->weight;
    if (weight == nullptr) continue;
    const float bound = xavier_uniform_bound(weight->shape());
    fill_uniform(weight->value(), gen, -bound, bound);
  }
}

}  // namespace

std::unique_ptr<Sequential> build_gan_discriminator(const std::string& model, Generator& gen, Device device) {
  check_model(model);
  auto net = std::make_unique<Sequential>();
  if (model == "fc") {
    net->emplace<Flatten>();
    net->emplace<Linear>(kGanImageSize, 256, gen, device);
    net->emplace<LeakyReLU>(kSlope);
    net->emplace<Linear>(256, 256, gen, device);
    net->emplace<LeakyReLU>(kSlope);
    net->emplace<Linear>(256, 1, gen, device);
  } else {
    net->emplace<Unflatten>(Shape{1, kGanImageSide, kGanImageSide});
    net->emplace<Conv2d>(1, 32, 5, gen, Conv2dParams{}, device);
    net->emplace<LeakyReLU>(kSlope);
    net->emplace<MaxPool2d>(2, 2);
    net->emplace<Conv2d>(32, 64, 5, gen, Conv2dParams{}, device);
    net->emplace<LeakyReLU>(kSlope);
    net->emplace<MaxPool2d>(2, 2);
    net->emplace<Flatten>();
    net->emplace<Linear>(4 * 4 * 64, 4 * 4 * 64, gen, device);
    net->emplace<LeakyReLU>(kSlope);
    net->emplace<Linear>(4 * 4 * 64, 1, gen, device);
  }
  if (model == "dcgan") xavier_init(*net, gen);
  return net;
}

std::unique_ptr<Sequential> build_gan_generator(const std::string& model, std::int64_t noise_dim, Generator& gen,
                                                Device device) {
  check_model(model);
  CUDL_CHECK(noise_dim >= 1, "gan: noise_dim must be >= 1, got ", noise_dim);
  auto net = std::make_unique<Sequential>();
  if (model == "fc") {
    net->emplace<Linear>(noise_dim, 1024, gen, device);
    net->emplace<ReLU>();
    net->emplace<Linear>(1024, 1024, gen, device);
    net->emplace<ReLU>();
    net->emplace<Linear>(1024, kGanImageSize, gen, device);
    net->emplace<Tanh>();
  } else {
    const Conv2dParams upsample{.stride = 2, .pad = 1};
    net->emplace<Linear>(noise_dim, 1024, gen, device);
    net->emplace<ReLU>();
    net->emplace<BatchNorm1d>(1024, 1e-5f, 0.1f, device);
    net->emplace<Linear>(1024, 7 * 7 * 128, gen, device);
    net->emplace<ReLU>();
    net->emplace<BatchNorm1d>(7 * 7 * 128, 1e-5f, 0.1f, device);
    net->emplace<Unflatten>(Shape{128, 7, 7});
    net->emplace<ConvTranspose2d>(128, 64, 4, gen, upsample, device);
    net->emplace<ReLU>();
    net->emplace<BatchNorm2d>(64, 1e-5f, 0.1f, device);
    net->emplace<ConvTranspose2d>(64, 1, 4, gen, upsample, device);
    net->emplace<Tanh>();
    net->emplace<Flatten>();
  }
  if (model == "dcgan") xavier_init(*net, gen);
  return net;
}

}  // namespace cudl
