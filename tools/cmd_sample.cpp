// cudl sample gan: a grid of images from the generator of a `cudl train gan` checkpoint;
// cudl sample ddpm is tools/cmd_ddpm.cpp.
#include <cstdio>

#include "core/device.h"
#include "core/random.h"
#include "train/gan.h"
#include "train/image_grid.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace cudl::cli {

int cmd_sample_gan(const Args& args) {
  std::string checkpoint, out = "samples.png", device_name = "auto";
  std::int64_t count = 64, columns = 0;
  std::uint64_t seed = 0;
  FlagParser flags("cudl sample", "gan --checkpoint FILE [options]",
                   "Rebuilds the generator of a `cudl train gan` checkpoint (last.safetensors) from its metadata,\n"
                   "feeds it uniform noise in (-1, 1) drawn from --seed and writes the images as one PNG grid.");
  flags.add("--checkpoint", "FILE", "a checkpoint of cudl train gan", "", [&](const std::string& v) { checkpoint = v; });
  flags.add("--n", "N", "number of images", "64", [&](const std::string& v) { count = parse_int("--n", v, 1); });
  flags.add("--columns", "N", "images per row", "ceil(sqrt(n))",
            [&](const std::string& v) { columns = parse_int("--columns", v, 1); });
  flags.add("--out", "FILE", "the PNG to write", "samples.png", [&](const std::string& v) { out = v; });
  flags.add("--seed", "N", "seed of the noise", "0",
            [&](const std::string& v) { seed = static_cast<std::uint64_t>(parse_int("--seed", v, 0)); });
  flags.add("--device", "DEV", "auto, cpu, cuda or cuda:N", "auto", [&](const std::string& v) {
    if (v != "auto" && v != "cpu" && v != "cuda" && !v.starts_with("cuda:"))
      throw UsageError("--device must be auto, cpu, cuda or cuda:N, got '" + v + "'");
    device_name = v;
  });
  try {
    const std::vector<std::string> positional = flags.parse(args);
    if (flags.help_requested()) {
      std::printf("%s", flags.help().c_str());
      return 0;
    }
    if (positional.size() != 1) throw UsageError("expected what to sample from: gan");
    parse_choice("model family", positional[0], {"gan", "ddpm"});
    if (checkpoint.empty()) throw UsageError("--checkpoint FILE is required");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "cudl sample: error: %s (see cudl sample --help)\n", e.what());
    return 2;
  }

  const Device device = parse_device(device_name);
  LoadedGan gan = load_gan_checkpoint(checkpoint, device);
  Generator gen(seed);
  const Tensor images = generate_images(*gan.generator, sample_noise(count, gan.info.noise_dim, gen, device));
  write_image_grid(out, images, {.columns = static_cast<int>(columns), .padding = 2, .scale = 1, .low = -1.0f, .high = 1.0f});
  std::printf("%lld images from the %s generator (%s loss, iteration %lld, noise_dim %lld) of %s: %s\n",
              static_cast<long long>(count), gan.info.model.c_str(), gan_loss_name(gan.info.loss),
              static_cast<long long>(gan.info.iteration), static_cast<long long>(gan.info.noise_dim),
              checkpoint.c_str(), out.c_str());
  return 0;
}

// `cudl sample gan|ddpm ...`: the model family names the command that reads its checkpoint.
int cmd_sample(const Args& args) {
  for (const std::string& a : args)
    if (a == "ddpm") return cmd_sample_ddpm(args);
  return cmd_sample_gan(args);
}

}  // namespace cudl::cli
