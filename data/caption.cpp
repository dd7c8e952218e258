#include "data/caption.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

#include "core/check.h"
#include "core/formats/atomic_file.h"
#include "core/formats/io_util.h"
#include "core/formats/json.h"
#include "data/permutation.h"

namespace cudl {

namespace {
// 1 where a target token is not <NULL>, as a float32 tensor of `shape` on `device`.
Tensor mask_of(const std::int64_t* targets, const Shape& shape, Device device) {
  std::vector<float> mask(static_cast<std::size_t>(shape_numel(shape)));
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = targets[i] != kNullToken ? 1.0f : 0.0f;
  return Tensor::from_vector(mask, shape, device);
}

const std::vector<std::string>& special_tokens() {
  static const std::vector<std::string> specials{"<NULL>", "<START>", "<END>", "<UNK>"};
  return specials;
}
}  // namespace

// ---- Vocabulary ----
Vocabulary::Vocabulary() : Vocabulary(special_tokens()) {}

Vocabulary::Vocabulary(std::vector<std::string> words, const std::string& source) : words_(std::move(words)) {
  const auto& specials = special_tokens();
  CUDL_CHECK(words_.size() >= specials.size() && std::equal(specials.begin(), specials.end(), words_.begin()), source,
             ": expected the vocabulary to start with <NULL> <START> <END> <UNK> (ids 0..3), got ",
             words_.empty() ? std::string("no words") : "'" + words_[0] + "' first");
  for (std::size_t i = 0; i < words_.size(); ++i) {
    CUDL_CHECK(!words_[i].empty(), source, ": word ", i, " is empty");
    const bool fresh = index_.emplace(words_[i], static_cast<std::int64_t>(i)).second;
    CUDL_CHECK(fresh, source, ": the word '", words_[i], "' appears twice (ids ", index_[words_[i]], " and ", i, ")");
  }
}

Vocabulary Vocabulary::from_captions(const std::vector<std::string>& captions, std::int64_t min_count) {
  CUDL_CHECK(min_count >= 1, "Vocabulary::from_captions: expected min_count >= 1, got ", min_count);
  std::map<std::string, std::int64_t> counts;
  for (const std::string& caption : captions)
    for (std::string& w : caption_words(caption)) ++counts[std::move(w)];
  std::vector<std::pair<std::string, std::int64_t>> kept;
  for (auto& [word, count] : counts)
    if (count >= min_count && std::find(special_tokens().begin(), special_tokens().end(), word) == special_tokens().end())
      kept.emplace_back(word, count);
  // Stable: the map's alphabetical order breaks ties.
  std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> words = special_tokens();
  for (auto& [word, count] : kept) words.push_back(word);
  return Vocabulary(std::move(words));
}

const std::string& Vocabulary::word(std::int64_t id) const {
  CUDL_CHECK(id >= 0 && id < size(), "Vocabulary: token id ", id, " is outside [0, ", size(), ")");
  return words_[static_cast<std::size_t>(id)];
}

std::int64_t Vocabulary::id(std::string_view word) const {
  const auto it = index_.find(std::string(word));
  return it == index_.end() ? kUnknownToken : it->second;
}

std::vector<std::int64_t> Vocabulary::encode(std::string_view caption, std::int64_t max_length) const {
  const std::vector<std::string> words = caption_words(caption);
  const std::int64_t needed = static_cast<std::int64_t>(words.size()) + 2;
  CUDL_CHECK(needed <= max_length, "Vocabulary::encode: the caption \"", caption, "\" has ", words.size(),
             " words and needs ", needed, " tokens with <START> and <END>, more than max_length ", max_length);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(max_length), kNullToken);
  ids[0] = kStartToken;
  for (std::size_t i = 0; i < words.size(); ++i) ids[i + 1] = id(words[i]);
  ids[words.size() + 1] = kEndToken;
  return ids;
}

std::string Vocabulary::decode(const std::int64_t* ids, std::int64_t count) const {
  std::string out;
  for (std::int64_t i = 0; i < count && ids[i] != kEndToken; ++i) {
    if (ids[i] == kNullToken || ids[i] == kStartToken) continue;
    if (!out.empty()) out += ' ';
    out += word(ids[i]);
  }
  return out;
}

std::string Vocabulary::to_json() const {
  nlohmann::json j;
  j["idx_to_word"] = words_;
  nlohmann::json to_idx = nlohmann::json::object();
  for (std::size_t i = 0; i < words_.size(); ++i) to_idx[words_[i]] = i;
  j["word_to_idx"] = std::move(to_idx);
  return j.dump();
}

Vocabulary Vocabulary::parse_json(std::string_view text, const std::string& source) {
  const nlohmann::json j = formats::parse_json(text, source);
  CUDL_CHECK(j.is_object() && j.contains("idx_to_word") && j["idx_to_word"].is_array(), source,
             ": expected an object with an \"idx_to_word\" list (CS231n's coco2014_vocab.json layout)");
  std::vector<std::string> words;
  for (const auto& w : j["idx_to_word"]) {
    CUDL_CHECK(w.is_string(), source, ": idx_to_word[", words.size(), "] is not a string");
    words.push_back(w.get<std::string>());
  }
  Vocabulary vocab(std::move(words), source);
  if (j.contains("word_to_idx")) {
    const auto& to_idx = j["word_to_idx"];
    CUDL_CHECK(to_idx.is_object() && to_idx.size() == vocab.words_.size(), source,
               ": word_to_idx should map each of the ", vocab.size(), " words of idx_to_word to its id");
    for (const auto& [word, id] : to_idx.items()) {
      const auto it = vocab.index_.find(word);
      CUDL_CHECK(id.is_number_integer() && it != vocab.index_.end() && it->second == id.get<std::int64_t>(), source,
                 ": word_to_idx[\"", word, "\"] = ", id.dump(), " disagrees with idx_to_word");
    }
  }
  return vocab;
}

Vocabulary read_vocabulary_json(const std::string& path) {
  const std::vector<std::uint8_t> bytes = formats::read_all(path, 1ull << 30);
  return Vocabulary::parse_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

void write_vocabulary_json(const std::string& path, const Vocabulary& vocab) {
  write_file_atomic(path, [&](std::ostream& out) { out << vocab.to_json() << '\n'; });
}

std::vector<std::string> caption_words(std::string_view caption) {
  std::vector<std::string> words;
  std::string word;
  for (const char ch : caption) {
    const auto c = static_cast<unsigned char>(ch);
    const bool separator = std::isspace(c) || (c < 0x80 && std::ispunct(c) && c != '-' && c != '\'');
    if (!separator) {
      word += static_cast<char>(std::tolower(c));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// ---- CaptionDataset ----
Shape CaptionDataset::image_shape() const { return Shape(images.shape().begin() + 1, images.shape().end()); }

void CaptionDataset::validate(const std::string& source) const {
  check_float(source.c_str(), "images", images);
  CUDL_CHECK(images.dim() == 2 || images.dim() == 4, source, ": expected images [M, C, H, W] or features [M, D], got ",
             images.str());
  check_dtype(source.c_str(), "captions", captions, DType::I64);
  check_ndim(source.c_str(), "captions", captions, 2);
  check_shape(source.c_str(), "image_index", image_index, {captions.size(0)});
  CUDL_CHECK(images.device().is_cpu() && captions.device().is_cpu() && image_index.device().is_cpu(), source,
             ": caption datasets live on the host");
  CUDL_CHECK(captions.size(1) >= 2, source, ": captions need room for <START> and <END>, got ", captions.str());
  const std::int64_t* idx = image_index.data<std::int64_t>();
  for (std::int64_t i = 0; i < size(); ++i)
    CUDL_CHECK(idx[i] >= 0 && idx[i] < num_images(), source, ": caption ", i, " describes image ", idx[i],
               ", outside the ", num_images(), " images");
  const std::int64_t* tokens = captions.data<std::int64_t>();
  for (std::int64_t i = 0; i < captions.numel(); ++i)
    CUDL_CHECK(tokens[i] >= 0 && tokens[i] < vocab.size(), source, ": caption ", i / max_length(), " holds token ",
               tokens[i], ", outside the vocabulary of ", vocab.size());
}

std::vector<std::vector<std::string>> CaptionDataset::references() const {
  std::vector<std::vector<std::string>> refs(static_cast<std::size_t>(num_images()));
  const std::int64_t* idx = image_index.data<std::int64_t>();
  const std::int64_t* tokens = captions.data<std::int64_t>();
  for (std::int64_t i = 0; i < size(); ++i)
    refs[static_cast<std::size_t>(idx[i])].push_back(vocab.decode(tokens + i * max_length(), max_length()));
  return refs;
}

Tensor encode_captions(const Vocabulary& vocab, const std::vector<std::string>& captions, std::int64_t max_length) {
  const std::int64_t n = static_cast<std::int64_t>(captions.size());
  Tensor out = Tensor::empty({n, max_length}, DType::I64);
  std::int64_t* dst = out.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::vector<std::int64_t> ids = vocab.encode(captions[static_cast<std::size_t>(i)], max_length);
    std::copy(ids.begin(), ids.end(), dst + i * max_length);
  }
  return out;
}

Tensor caption_mask(const Tensor& targets) {
  check_dtype("caption_mask", "targets", targets, DType::I64);
  CUDL_CHECK(targets.device().is_cpu(), "caption_mask: expected targets on the host, got ", targets.str());
  return mask_of(targets.data<std::int64_t>(), targets.shape(), Device::cpu());
}

void check_caption_image(const Tensor& image, const Shape& expected_image_shape, const std::string& source) {
  check_float(source.c_str(), "image", image);
  Shape shape = image.shape();
  if (shape.size() == expected_image_shape.size() + 1 && shape[0] == 1) shape.erase(shape.begin());
  CUDL_CHECK(shape == expected_image_shape, source, ": the model takes images of ", shape_str(expected_image_shape),
             " (channels, height, width), got ", image.str());
}

// ---- CaptionLoader ----
CaptionLoader::CaptionLoader(const CaptionDataset& dataset, CaptionLoaderOptions options)
    : dataset_(dataset), options_(options) {
  CUDL_CHECK(options_.batch_size >= 1, "CaptionLoader: expected batch_size >= 1, got ", options_.batch_size);
  dataset.validate("CaptionLoader");
  CUDL_CHECK(dataset.size() > 0, "CaptionLoader: the dataset holds no captions");
  order_ = epoch_order(0);
}

std::vector<std::int64_t> CaptionLoader::epoch_order(std::int64_t epoch) const {
  // Block epoch << 32: one stream per epoch, as the image DataLoader does.
  if (options_.shuffle) return philox_permutation(dataset_.size(), options_.seed, static_cast<std::uint64_t>(epoch) << 32);
  std::vector<std::int64_t> order(static_cast<std::size_t>(dataset_.size()));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  return order;
}

std::int64_t CaptionLoader::batches_per_epoch() const {
  const std::int64_t n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void CaptionLoader::set_state(LoaderState state) {
  CUDL_CHECK(state.epoch >= 0 && state.position >= 0 && state.position <= dataset_.size(),
             "CaptionLoader::set_state: expected epoch >= 0 and 0 <= position <= ", dataset_.size(), ", got epoch ",
             state.epoch, " position ", state.position);
  if (state.epoch != state_.epoch) order_ = epoch_order(state.epoch);
  state_ = state;
}

std::optional<CaptionBatch> CaptionLoader::next() {
  const std::int64_t count = std::min(options_.batch_size, dataset_.size() - state_.position);
  if (count <= 0 || (options_.drop_last && count < options_.batch_size)) {
    set_state({state_.epoch + 1, 0});
    return std::nullopt;
  }
  const auto first = order_.begin() + state_.position;
  state_.position += count;
  return batch(std::vector<std::int64_t>(first, first + count));
}

CaptionBatch CaptionLoader::batch(const std::vector<std::int64_t>& caption_ids) const {
  const std::int64_t b = static_cast<std::int64_t>(caption_ids.size()), length = dataset_.max_length();
  const std::int64_t sample = dataset_.images.numel() / dataset_.num_images();
  Shape image_shape = dataset_.images.shape();
  image_shape[0] = b;
  Tensor images = Tensor::empty(image_shape);
  std::vector<std::int64_t> in(static_cast<std::size_t>(b * (length - 1))), out(in.size());
  const float* src = dataset_.images.data<float>();
  const std::int64_t* index = dataset_.image_index.data<std::int64_t>();
  const std::int64_t* tokens = dataset_.captions.data<std::int64_t>();
  float* dst = images.data<float>();
  for (std::int64_t i = 0; i < b; ++i) {
    const std::int64_t c = caption_ids[static_cast<std::size_t>(i)];
    CUDL_CHECK(c >= 0 && c < dataset_.size(), "CaptionLoader::batch: caption ", c, " is outside [0, ", dataset_.size(), ")");
    std::memcpy(dst + i * sample, src + index[c] * sample, sizeof(float) * static_cast<std::size_t>(sample));
    std::copy(tokens + c * length, tokens + (c + 1) * length - 1, in.begin() + i * (length - 1));
    std::copy(tokens + c * length + 1, tokens + (c + 1) * length, out.begin() + i * (length - 1));
  }
  CaptionBatch result;
  const Device device = options_.device;
  result.images = device.is_cpu() ? std::move(images) : images.to(device);
  result.captions_in = Tensor::from_vector(in, {b, length - 1}, device);
  result.captions_out = Tensor::from_vector(out, {b, length - 1}, device);
  result.mask = mask_of(out.data(), {b, length - 1}, device);
  result.caption_ids = caption_ids;
  return result;
}

}  // namespace cudl
