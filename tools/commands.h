// The `cudl` CLI's subcommands. Each takes the arguments after its name and
// returns the process exit status; a cudl::Error escaping one is printed as a
// one-line message by main() with exit status 1.
#pragma once

#include <string>
#include <vector>

namespace cudl::cli {

using Args = std::vector<std::string>;

int cmd_info(const Args& args);    // devices, build configuration
int cmd_golden(const Args& args);  // golden-case runner
int cmd_train(const Args& args);   // train a built-in model
int cmd_train_gan(const Args& args);  // cudl train gan: train a GAN
int cmd_sample(const Args& args);  // images from a trained generative model
int cmd_eval(const Args& args);    // evaluate a checkpoint
int cmd_inspect(const Args& args); // tensors, dtypes and shapes in .safetensors, .npy, IDX files
int cmd_captions(const Args& args);  // captioning datasets: counts and a captioned image grid
int cmd_score(const Args& args);   // FID, IS and label histogram of generated samples
int cmd_train_ddpm(const Args& args);  // `cudl train ddpm`: a class-conditional diffusion U-Net
int cmd_sample_ddpm(const Args& args);  // `cudl sample ddpm`
int cmd_sample_gan(const Args& args);   // `cudl sample gan`
int cmd_train_captioner(const Args& args);  // `cudl train captioner`: CS231n's Transformer captioner
int cmd_caption(const Args& args);  // captions of PNG images from a captioner checkpoint

}  // namespace cudl::cli
