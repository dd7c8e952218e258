#include "train/ddpm.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/formats/json.h"
#include "core/random.h"

namespace cudl {

DdpmCheckpoint read_ddpm_checkpoint(const std::string& path) {
  DdpmCheckpoint c;
  c.file = read_safetensors(path);
  const auto& meta = c.file.metadata;
  const auto kind = meta.find("model");
  CUDL_CHECK(kind != meta.end() && kind->second == kDdpmCheckpointKind, path, ": not a DDPM checkpoint (model '",
             kind == meta.end() ? std::string("none") : kind->second, "'; expected '", kDdpmCheckpointKind, "')");
  auto field = [&](const char* name) -> const std::string& {
    const auto it = meta.find(name);
    CUDL_CHECK(it != meta.end(), path, ": the metadata has no '", name, "'");
    return it->second;
  };
  c.config = UNetConfig::from_json(field("config"));
  const nlohmann::json d = formats::parse_json(field("diffusion"), path + " diffusion");
  try {
    c.diffusion = {.timesteps = d.at("timesteps"),
                   .schedule = parse_noise_schedule(d.at("schedule")),
                   .objective = parse_diffusion_objective(d.at("objective"))};
    c.class_names = formats::parse_json(field("class_names"), path + " class_names").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    detail::throw_error(path, ": bad metadata: ", e.what());
  }
  if (c.config.vocab_size > 0) {
    c.vocabulary = Vocabulary::parse_json(field("vocabulary"), path + " vocabulary");
    CUDL_CHECK(c.vocabulary->size() == c.config.vocab_size, path, ": the vocabulary has ", c.vocabulary->size(),
               " words; the U-Net's text embedding ", c.config.vocab_size);
  }
  const std::string& iteration = field("iteration");
  const bool is_count = !iteration.empty() && iteration.size() < 19 &&
                        std::all_of(iteration.begin(), iteration.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  CUDL_CHECK(is_count, path, ": the metadata's iteration '", iteration, "' is not a count");
  c.iteration = std::stoll(iteration);
  return c;
}

Tensor caption_condition(const Vocabulary& vocabulary, const std::vector<std::string>& captions,
                         std::vector<std::string>* unknown) {
  CUDL_CHECK(!captions.empty(), "caption_condition: expected at least one caption");
  std::vector<std::vector<std::int64_t>> rows;
  std::size_t length = 0;
  for (const std::string& caption : captions) {
    const std::vector<std::string> words = caption_words(caption);
    if (unknown != nullptr)
      for (const std::string& word : words)
        if (vocabulary.id(word) == kUnknownToken && std::find(unknown->begin(), unknown->end(), word) == unknown->end())
          unknown->push_back(word);
    rows.push_back(vocabulary.encode(caption, static_cast<std::int64_t>(words.size()) + 2));
    length = std::max(length, rows.back().size());
  }
  Tensor tokens = Tensor::zeros({static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(length)},
                                DType::I64);
  for (std::size_t n = 0; n < rows.size(); ++n)
    std::copy(rows[n].begin(), rows[n].end(), tokens.data<std::int64_t>() + n * length);
  return tokens;
}

Tensor sample_ddpm(const GaussianDiffusion& diffusion, UNet& unet, const Tensor* condition, std::int64_t n,
                   Generator& gen, const SampleOptions& options) {
  CUDL_CHECK(condition == nullptr || (condition->dim() >= 1 && condition->size(0) == n), "sample_ddpm: expected a "
             "condition row for each of the ", n, " samples, got ", condition == nullptr ? "" : condition->str());
  const Tensor on_device = condition != nullptr ? condition->to(unet.device()) : Tensor();
  const UNetConfig& c = unet.config();
  return diffusion.sample(unet.denoiser(), {n, c.in_channels, c.image_size, c.image_size},
                          condition != nullptr ? &on_device : nullptr, gen, options);
}

}  // namespace cudl
