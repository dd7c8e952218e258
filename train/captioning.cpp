#include "train/captioning.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "autograd/functions.h"
#include "core/check.h"
#include "core/formats/json.h"
#include "core/formats/safetensors.h"
#include "train/checkpoint.h"
#include "train/state_fields.h"
#include "train/step.h"

namespace cudl {

namespace {

constexpr const char* kModelKind = "captioner";
constexpr const char* kOptimizerPrefix = "optimizer.";
constexpr const char* kStateKey = "caption_training_state";

// The configuration with what the data decides filled in.
CaptionerConfig fit_to_data(CaptionerConfig c, const CaptionDataset& data) {
  data.validate("CaptionTrainer");
  c.vocab_size = data.vocab.size();
  c.input_shape = data.image_shape();
  CUDL_CHECK(c.max_length == 0 || c.max_length >= data.max_length() - 1, "CaptionTrainer: max_length ", c.max_length,
             " is shorter than the captions the model reads (", data.max_length() - 1, " tokens)");
  if (c.max_length == 0) c.max_length = data.max_length();
  return c;
}

}  // namespace

Var caption_loss(CaptioningTransformer& model, const CaptionBatch& batch) {
  const Var scores = model.forward(Var(batch.images.view()), batch.captions_in);
  return temporal_softmax_loss(scores, batch.captions_out, batch.mask);
}

CaptionTrainer::CaptionTrainer(const CaptionDataset& train, CaptionTrainOptions options)
    : train_(train),
      options_((options.model = fit_to_data(options.model, train), options)),
      model_(std::make_unique<CaptioningTransformer>(options_.model, options_.seed, options_.device)),
      optimizer_(std::make_unique<Adam>(model_->parameters(), options_.schedule.base_lr)),
      loader_(train, {.batch_size = options_.batch_size, .shuffle = true, .seed = options_.seed, .device = options_.device}) {}

float CaptionTrainer::step() {
  std::optional<CaptionBatch> batch = loader_.next();
  if (!batch) batch = loader_.next();  // the epoch ended: the first batch of the next
  model_->set_training(true);
  optimizer_->set_learning_rate(options_.schedule.lr(iteration_, loader_.epoch()));
  const StepResult r =
      optimization_step({optimizer_.get()}, [&] { return caption_loss(*model_, *batch); }, options_.clip_norm);
  CUDL_CHECK(r.nonfinite.empty(), "CaptionTrainer: iteration ", iteration_ + 1, ": ", r.nonfinite,
             " (lower the learning rate; the parameters are those after iteration ", iteration_, ")");
  ++iteration_;
  losses_.push_back(r.loss);
  return r.loss;
}

void CaptionTrainer::save_checkpoint(const std::string& path, const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> metadata = extra;
  metadata["iteration"] = std::to_string(iteration_);
  save_captioner_checkpoint(path, *model_, train_.vocab, metadata);
}

void CaptionTrainer::save_state(const std::string& path) {
  TensorMap tensors = model_state_dict(*model_);
  add_prefixed(tensors, kOptimizerPrefix, optimizer_->state_dict());
  tensors.emplace("losses", Tensor::from_vector(losses_, {static_cast<std::int64_t>(losses_.size())}));
  const nlohmann::json state{{"iteration", iteration_},
                             {"batch_size", options_.batch_size},
                             {"seed", std::to_string(options_.seed)},
                             {"loader_epoch", loader_.state().epoch},
                             {"loader_position", loader_.state().position}};
  write_safetensors(path, tensors,
                    {{"model", kModelKind},
                     {"config", options_.model.to_json()},
                     {"vocabulary", train_.vocab.to_json()},
                     {kStateKey, state.dump()}});
}

void CaptionTrainer::load_state(const std::string& path) {
  const SafetensorsFile file = read_safetensors(path);
  const auto meta = [&](const char* key) -> const std::string& {
    const auto it = file.metadata.find(key);
    CUDL_CHECK(it != file.metadata.end(), "training state ", path, ": no '", key,
               "' in __metadata__ (not the state.safetensors of `cudl train captioner`?)");
    return it->second;
  };
  CUDL_CHECK(meta("model") == kModelKind, "training state ", path, " is of model '", meta("model"), "', not a captioner");
  CUDL_CHECK(meta("config") == options_.model.to_json(), "training state ", path, " was saved with model config ",
             meta("config"), ", this run builds ", options_.model.to_json());
  CUDL_CHECK(meta("vocabulary") == train_.vocab.to_json(), "training state ", path,
             " was saved with another vocabulary than this data's");
  const nlohmann::json s = formats::parse_json(meta(kStateKey), "training state " + path);
  const StateFields fields(s, path);
  const std::int64_t batch_size = fields.integer("batch_size", 1, train_.size());
  CUDL_CHECK(batch_size == options_.batch_size, "training state ", path, " was saved with batch size ", batch_size,
             ", this run uses ", options_.batch_size);
  CUDL_CHECK(fields.decimal("seed") == options_.seed, "training state ", path, " was saved with seed ",
             fields.decimal("seed"), ", this run uses ", options_.seed);
  const std::int64_t iteration = fields.integer("iteration", 0, std::int64_t{1} << 40);
  const LoaderState loader{fields.integer("loader_epoch", 0, std::int64_t{1} << 40),
                           fields.integer("loader_position", 0, train_.size())};
  const auto losses = file.tensors.find("losses");
  CUDL_CHECK(losses != file.tensors.end() && losses->second.dim() == 1 && losses->second.numel() == iteration &&
                 losses->second.dtype() == DType::F32,
             "training state ", path, ": expected a float32 'losses' of ", iteration, " values (one per iteration)");
  load_model_state(*model_, file.tensors);
  optimizer_->load_state_dict(entries_under(file.tensors, kOptimizerPrefix));
  loader_.set_state(loader);
  iteration_ = iteration;
  losses_ = losses->second.to_vector();
}

void save_captioner_checkpoint(const std::string& path, CaptioningTransformer& model, const Vocabulary& vocab,
                               const std::map<std::string, std::string>& extra_metadata) {
  std::map<std::string, std::string> metadata = extra_metadata;
  metadata["model"] = kModelKind;
  metadata["config"] = model.config().to_json();
  metadata["vocabulary"] = vocab.to_json();
  write_safetensors(path, model_state_dict(model), metadata);
}

LoadedCaptioner load_captioner_checkpoint(const std::string& path, Device device) {
  SafetensorsFile file = read_safetensors(path);
  const auto kind = file.metadata.find("model");
  CUDL_CHECK(kind != file.metadata.end() && kind->second == kModelKind, path, ": not a captioner checkpoint (model '",
             kind == file.metadata.end() ? std::string("none") : kind->second,
             "'; `cudl train captioner` writes captioner checkpoints)");
  for (const char* key : {"config", "vocabulary"})
    CUDL_CHECK(file.metadata.count(key), path, ": captioner checkpoint without '", key, "' in __metadata__");
  LoadedCaptioner out;
  const CaptionerConfig config = CaptionerConfig::from_json(file.metadata["config"]);
  out.vocab = Vocabulary::parse_json(file.metadata["vocabulary"], path + " vocabulary");
  CUDL_CHECK(out.vocab.size() == config.vocab_size, path, ": the vocabulary has ", out.vocab.size(),
             " words, the model ", config.vocab_size);
  out.model = std::make_unique<CaptioningTransformer>(config, 0, device);
  load_model_state(*out.model, file.tensors);
  out.metadata = std::move(file.metadata);
  return out;
}

CaptionScores score_captions(CaptioningTransformer& model, const CaptionDataset& dataset, std::int64_t max_images,
                             std::int64_t beam_width, std::int64_t batch_size) {
  CUDL_CHECK(beam_width >= 1 && batch_size >= 1, "score_captions: expected beam_width >= 1 and batch_size >= 1, got ",
             beam_width, " and ", batch_size);
  dataset.validate("score_captions");
  const std::vector<std::vector<std::string>> references = dataset.references();
  CaptionScores out;
  for (std::int64_t m = 0; m < dataset.num_images() && (max_images == 0 || std::ssize(out.images) < max_images); ++m)
    if (!references[static_cast<std::size_t>(m)].empty()) out.images.push_back(m);
  CUDL_CHECK(!out.images.empty(), "score_captions: no image of the dataset has a caption");

  std::vector<std::vector<std::string>> image_refs;
  std::int64_t exact = 0;
  for (std::size_t first = 0; first < out.images.size(); first += static_cast<std::size_t>(batch_size)) {
    const std::size_t last = std::min(out.images.size(), first + static_cast<std::size_t>(batch_size));
    const std::int64_t a = out.images[first], b = out.images[last - 1] + 1;
    // The rows [a, b) cover this batch's images; uncaptioned rows between them
    // (none in the emoji and scenes sets) are captioned too and ignored.
    const Tensor inputs = dataset.images.slice(a, b);
    const std::vector<std::vector<std::int64_t>> ids =
        beam_width > 1 ? model.sample_beam(inputs, beam_width) : model.sample_greedy(inputs);
    for (std::size_t i = first; i < last; ++i) {
      const std::int64_t row = out.images[i] - a;
      const std::vector<std::string>& refs = references[static_cast<std::size_t>(out.images[i])];
      out.hypotheses.push_back(dataset.vocab.decode(ids[static_cast<std::size_t>(row)]));
      out.references.push_back(refs.front());
      exact += std::find(refs.begin(), refs.end(), out.hypotheses.back()) != refs.end();
      image_refs.push_back(refs);
    }
  }
  out.bleu = corpus_bleu(out.hypotheses, image_refs);
  out.exact_match = static_cast<double>(exact) / static_cast<double>(out.images.size());
  return out;
}

}  // namespace cudl
