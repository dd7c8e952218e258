// The GANs of CS231n's 2024 assignment 3 (GANs-PyTorch.ipynb), as torch.nn.Sequential
// look-alikes whose parameter names are those of the torch.nn models in docs/gan.md.
// Every net takes and makes flattened 28x28 images, [N, 784], in [-1, 1]:
//
//   fc     discriminator  Flatten, 784-256, LeakyReLU(0.01), 256-256, LeakyReLU, 256-1
//                         (267,009 parameters; children 1, 3, 5 hold them)
//          generator      noise-1024, ReLU, 1024-1024, ReLU, 1024-784, Tanh
//                         (1,952,528 parameters at noise_dim 96; children 0, 2, 4)
//   dcgan  discriminator  Unflatten(1,28,28), conv 1-32 5x5, LeakyReLU, max pool 2,
//                         conv 32-64 5x5, LeakyReLU, max pool 2, Flatten (1024),
//                         fc 1024, LeakyReLU, fc 1 (1,102,721 parameters)
//          generator      InfoGAN's: fc 1024, ReLU, BN1d, fc 7*7*128, ReLU, BN1d,
//                         Unflatten(128,7,7), convT 128-64 k4 s2 p1, ReLU, BN2d,
//                         convT 64-1 k4 s2 p1, Tanh, Flatten (6,675,009 at noise_dim 96)
//
// Linear and ConvTranspose2d weights are Xavier-uniform (CS231n's initialize_weights);
// every other tensor keeps torch.nn's default initialisation.
#pragma once

#include <memory>
#include <string>

#include "core/rng.h"
#include "layers/sequential.h"

namespace cudl {

inline constexpr std::int64_t kGanImageSide = 28;
inline constexpr std::int64_t kGanImageSize = kGanImageSide * kGanImageSide;

// `model`: "fc" or "dcgan" (anything else throws cudl::Error naming both).
std::unique_ptr<Sequential> build_gan_discriminator(const std::string& model, Generator& gen,
                                                    Device device = Device::cpu());
std::unique_ptr<Sequential> build_gan_generator(const std::string& model, std::int64_t noise_dim, Generator& gen,
                                                Device device = Device::cpu());

}  // namespace cudl
