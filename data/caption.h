// Image captioning data: a vocabulary, captions encoded as CS231n does, and a
// loader of minibatches. The emoji, scenes and COCO sources (data/emoji.h,
// data/scenes.h, data/coco.h) all fill a CaptionDataset.
//
// A caption of max_length L is <START> w1 ... wk <END> <NULL> ... <NULL>; the
// model reads captions[:, :-1] and is scored on captions[:, 1:], where the mask
// is 1 wherever the target is not <NULL> (CS231n's temporal softmax loss).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/device.h"
#include "core/tensor.h"
#include "data/loader.h"

namespace cudl {

// CS231n's special tokens and their ids.
inline constexpr std::int64_t kNullToken = 0, kStartToken = 1, kEndToken = 2, kUnknownToken = 3;

class Vocabulary {
 public:
  Vocabulary();  // the four special tokens only
  // `words` is idx_to_word; it must start with <NULL> <START> <END> <UNK> and
  // hold no word twice (throws naming `source`).
  explicit Vocabulary(std::vector<std::string> words, const std::string& source = "Vocabulary");
  // The specials, then every word of `captions` seen at least `min_count` times,
  // most frequent first, ties in alphabetical order.
  static Vocabulary from_captions(const std::vector<std::string>& captions, std::int64_t min_count = 1);

  std::int64_t size() const { return static_cast<std::int64_t>(words_.size()); }
  const std::vector<std::string>& words() const { return words_; }
  const std::string& word(std::int64_t id) const;  // throws when out of range
  std::int64_t id(std::string_view word) const;    // kUnknownToken when not in the vocabulary

  // <START> ids <END> padded with <NULL> to `max_length`. Words not in the
  // vocabulary become <UNK>; a caption that does not fit (words + 2 > max_length)
  // throws rather than being cut, so no training target is silently truncated.
  std::vector<std::int64_t> encode(std::string_view caption, std::int64_t max_length) const;
  // The words of ids up to the first <END>, joined by spaces; <START> and <NULL> are skipped.
  std::string decode(const std::int64_t* ids, std::int64_t count) const;
  std::string decode(const std::vector<std::int64_t>& ids) const { return decode(ids.data(), static_cast<std::int64_t>(ids.size())); }

  // CS231n's coco2014_vocab.json layout: {"idx_to_word": [...], "word_to_idx": {...}}.
  // parse_json checks that the two agree; `source` names the file in errors.
  std::string to_json() const;
  static Vocabulary parse_json(std::string_view text, const std::string& source = "vocabulary JSON");

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, std::int64_t> index_;
};

Vocabulary read_vocabulary_json(const std::string& path);
void write_vocabulary_json(const std::string& path, const Vocabulary& vocab);  // atomic

// Lower case, words split on spaces; ASCII punctuation other than '-' and '\''
// becomes a space ("Face with tears of joy!" -> face with tears of joy).
std::vector<std::string> caption_words(std::string_view caption);

struct CaptionDataset {
  Tensor images;       // float32 host: images [M, C, H, W] in [0, 1], or features [M, D]
  Tensor captions;     // int64 host [N, max_length]
  Tensor image_index;  // int64 host [N]: the row of `images` each caption describes
  Vocabulary vocab;

  std::int64_t size() const { return captions.defined() ? captions.size(0) : 0; }  // captions
  std::int64_t num_images() const { return images.defined() ? images.size(0) : 0; }
  std::int64_t max_length() const { return captions.size(1); }
  // The shape of one image (or feature vector): images.shape() without dim 0.
  Shape image_shape() const;
  // Throws naming `source` unless the tensors have the types and shapes above,
  // every image_index is in [0, M) and every token is in [0, vocab.size()).
  void validate(const std::string& source) const;
  // The reference captions of every image, decoded: references()[m] lists the
  // captions of image m (for BLEU against all references).
  std::vector<std::vector<std::string>> references() const;
};

// Encodes `captions` [N] into a [N, max_length] int64 tensor with vocab.encode.
Tensor encode_captions(const Vocabulary& vocab, const std::vector<std::string>& captions, std::int64_t max_length);

// 1.0 where `targets` (int64 on the host, any shape) is not <NULL>, else 0.0, as float32.
Tensor caption_mask(const Tensor& targets);

// Checks that `image` (float32 [C, H, W] or [1, C, H, W]) has the shape the
// model was trained on, e.g. for `cudl caption IMAGE.png`; throws naming both.
void check_caption_image(const Tensor& image, const Shape& expected_image_shape, const std::string& source);

struct CaptionBatch {
  Tensor images;        // float32 [B, ...] on the loader's device, the image of each caption
  Tensor captions_in;   // int64 [B, L - 1]: captions[:, :-1]
  Tensor captions_out;  // int64 [B, L - 1]: captions[:, 1:]
  Tensor mask;          // float32 [B, L - 1]: captions_out != <NULL>
  std::vector<std::int64_t> caption_ids;  // rows of dataset.captions, for looking up references
};

struct CaptionLoaderOptions {
  std::int64_t batch_size = 64;
  bool shuffle = true;
  std::uint64_t seed = 0;
  bool drop_last = false;
  Device device = Device::cpu();
};

// One pass over the captions per epoch, in a Philox permutation of (seed, epoch)
// (data/permutation.h), so epoch e's order does not depend on what came before.
class CaptionLoader {
 public:
  // `dataset` must outlive the loader; it is validated here.
  CaptionLoader(const CaptionDataset& dataset, CaptionLoaderOptions options);

  // The next batch of the current epoch, or nullopt once it is exhausted (that
  // call moves the loader to the next epoch).
  std::optional<CaptionBatch> next();
  // The batch of the given caption rows, in that order.
  CaptionBatch batch(const std::vector<std::int64_t>& caption_ids) const;

  std::int64_t batches_per_epoch() const;
  std::int64_t epoch() const { return state_.epoch; }
  std::vector<std::int64_t> epoch_order(std::int64_t epoch) const;

  // Where the loader is, for checkpoints: set_state(state()) on a new loader of
  // the same dataset and options hands out the batches the old one would have.
  LoaderState state() const { return state_; }
  void set_state(LoaderState state);

 private:
  const CaptionDataset& dataset_;
  CaptionLoaderOptions options_;
  LoaderState state_;
  std::vector<std::int64_t> order_;  // of state_.epoch
};

}  // namespace cudl
