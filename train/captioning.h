// Training and scoring a CaptioningTransformer (models/captioner.h) on a
// CaptionDataset (data/caption.h):
//
//   CaptionTrainer trainer(splits.train, {.model = config, .schedule = LrSchedule::constant(1e-3f)});
//   while (trainer.iteration() < 2000) trainer.step();
//   CaptionScores s = score_captions(trainer.model(), splits.val);   // s.bleu.bleu[3]: BLEU-4
//
// Each step is CS231n's: the model reads captions[:, :-1] and is scored on
// captions[:, 1:] by the temporal softmax loss, which ignores <NULL> targets
// (summed over time, averaged over the batch); one Adam step with the global
// gradient norm clipped. Batches come from a CaptionLoader (a Philox permutation
// per epoch) and the initialisation from the seed, so the same seed gives the
// same run, and a saved state resumes it bit for bit.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/caption.h"
#include "models/captioner.h"
#include "train/bleu.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace cudl {

struct CaptionTrainOptions {
  CaptionerConfig model;  // vocab_size, input_shape and max_length are taken from the data
  std::int64_t batch_size = 64;
  LrSchedule schedule = LrSchedule::constant(1e-3f);  // the rate of each step, from (iteration, epoch)
  float clip_norm = 1.0f;  // 0: no clipping
  std::uint64_t seed = 0;
  Device device = Device::cpu();
};

// The loss of one batch on the graph: temporal_softmax_loss(model(images, captions_in), captions_out, mask).
Var caption_loss(CaptioningTransformer& model, const CaptionBatch& batch);

class CaptionTrainer {
 public:
  // `train` must outlive the trainer. Throws cudl::Error when the configuration
  // does not fit the data (max_length shorter than the captions, say).
  CaptionTrainer(const CaptionDataset& train, CaptionTrainOptions options);

  // One Adam step on the next batch (a new epoch starts when one is exhausted);
  // returns the batch loss. Throws naming the iteration when the loss or a
  // gradient is not finite (the parameters are left as they were).
  float step();

  std::int64_t iteration() const { return iteration_; }
  std::int64_t epoch() const { return loader_.epoch(); }
  std::int64_t batches_per_epoch() const { return loader_.batches_per_epoch(); }
  const std::vector<float>& losses() const { return losses_; }
  CaptioningTransformer& model() { return *model_; }
  const CaptionTrainOptions& options() const { return options_; }

  // The torch-loadable checkpoint (see save_captioner_checkpoint).
  void save_checkpoint(const std::string& path, const std::map<std::string, std::string>& extra_metadata = {});
  // Everything a resumed run needs: the model, Adam's state, the loader's
  // position, the iteration and the loss history. load_state checks that the
  // state is of this configuration and vocabulary.
  void save_state(const std::string& path);
  void load_state(const std::string& path);

 private:
  const CaptionDataset& train_;
  CaptionTrainOptions options_;
  std::unique_ptr<CaptioningTransformer> model_;
  std::unique_ptr<Adam> optimizer_;
  CaptionLoader loader_;
  std::int64_t iteration_ = 0;
  std::vector<float> losses_;
};

// A checkpoint: the model's state_dict under torch.nn's names and __metadata__
//   model = "captioner", config (CaptionerConfig JSON), vocabulary
//   (coco2014_vocab.json's layout) and whatever `extra_metadata` adds (data, iteration).
void save_captioner_checkpoint(const std::string& path, CaptioningTransformer& model, const Vocabulary& vocab,
                               const std::map<std::string, std::string>& extra_metadata = {});

struct LoadedCaptioner {
  std::unique_ptr<CaptioningTransformer> model;
  Vocabulary vocab;
  std::map<std::string, std::string> metadata;
};
// Throws naming the file for a checkpoint of another kind or a broken one.
LoadedCaptioner load_captioner_checkpoint(const std::string& path, Device device = Device::cpu());

struct CaptionScores {
  BleuScore bleu;                        // generated captions against every reference of their image
  std::vector<std::int64_t> images;      // the rows of dataset.images scored
  std::vector<std::string> hypotheses;   // the generated caption of each
  std::vector<std::string> references;   // the first reference caption of each
  double exact_match = 0.0;              // fraction of images whose caption equals one of its references
};

// Captions the first `max_images` images of `dataset` (all when 0) with greedy
// decoding, or beam search when beam_width > 1, in batches, and scores them
// with corpus BLEU against all of each image's references.
CaptionScores score_captions(CaptioningTransformer& model, const CaptionDataset& dataset, std::int64_t max_images = 0,
                             std::int64_t beam_width = 1, std::int64_t batch_size = 128);

}  // namespace cudl
