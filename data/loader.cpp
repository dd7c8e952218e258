#include "data/loader.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "core/rng.h"
#include "data/permutation.h"
#if CUDL_WITH_CUDA
#include "data/cuda/staging.h"
#else
namespace cudl::detail {
class BatchStager {};  // never created without CUDA; complete so unique_ptr can destroy it
}  // namespace cudl::detail
#endif

namespace cudl {

namespace {
// Philox blocks: epoch e's shuffle draws from block (2e) << 32 and its
// augmentation from (2e + 1) << 32 on, so no two streams overlap.
std::uint64_t shuffle_block(std::int64_t epoch) { return static_cast<std::uint64_t>(2 * epoch) << 32; }
std::uint64_t augment_block(std::int64_t epoch) { return static_cast<std::uint64_t>(2 * epoch + 1) << 32; }
}  // namespace

void augment_images(float* images, std::int64_t batch, std::int64_t channels, std::int64_t height,
                    std::int64_t width, const Augmentation& augment, std::uint64_t seed, std::uint64_t first_block) {
  const std::int64_t pad = augment.crop_padding, plane = height * width, sample = channels * plane;
  CUDL_CHECK(pad >= 0, "augment_images: expected crop_padding >= 0, got ", pad);
  if (!augment.enabled()) return;
#pragma omp parallel
  {
    std::vector<float> original(static_cast<std::size_t>(sample));
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < batch; ++i) {
      const PhiloxWords r = philox4x32_10(seed, first_block + static_cast<std::uint64_t>(i));
      // The window's top-left corner in padded coordinates, in [0, 2 pad].
      const std::int64_t dy = pad > 0 ? bounded(r.w[0], static_cast<std::uint32_t>(2 * pad + 1)) - pad : 0;
      const std::int64_t dx = pad > 0 ? bounded(r.w[1], static_cast<std::uint32_t>(2 * pad + 1)) - pad : 0;
      const bool flip = augment.horizontal_flip && (r.w[2] & 1u);
      float* image = images + i * sample;
      std::memcpy(original.data(), image, sizeof(float) * sample);
      for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t y = 0; y < height; ++y) {
          const std::int64_t sy = y + dy;
          for (std::int64_t x = 0; x < width; ++x) {
            const std::int64_t sx = (flip ? width - 1 - x : x) + dx;
            const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
            image[c * plane + y * width + x] = inside ? original[c * plane + sy * width + sx] : 0.0f;
          }
        }
    }
  }
}

DataLoader::DataLoader(const Dataset& dataset, LoaderOptions options) : dataset_(dataset), options_(options) {
  CUDL_CHECK(options_.batch_size >= 1, "DataLoader: expected batch_size >= 1, got ", options_.batch_size);
  check_ndim("DataLoader", "images", dataset.images, 4);
  check_float("DataLoader", "images", dataset.images);
  check_dtype("DataLoader", "labels", dataset.labels, DType::I64);
  CUDL_CHECK(dataset.size() > 0 && dataset.images.size(0) == dataset.size(), "DataLoader: expected a non-empty ",
             "dataset with one label per image, got images ", dataset.images.str(), " and labels ",
             dataset.labels.str());
  CUDL_CHECK(dataset.images.device().is_cpu(), "DataLoader: the dataset must be on the host, got ",
             dataset.images.str());
  if (options_.device.is_cuda()) {
#if CUDL_WITH_CUDA
    stager_ = std::make_unique<detail::BatchStager>(options_.device, dataset.images.numel() / dataset.size(),
                                                    options_.batch_size);
#else
    detail::throw_error("DataLoader: cannot load batches onto ", options_.device.str(), ": built without CUDA");
#endif
  }
}

DataLoader::~DataLoader() = default;

std::int64_t DataLoader::batches_per_epoch() const {
  const std::int64_t n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::int64_t DataLoader::batch_count_at(std::int64_t position) const {
  const std::int64_t remaining = dataset_.size() - position;
  if (remaining <= 0 || (options_.drop_last && remaining < options_.batch_size)) return 0;
  return std::min(remaining, options_.batch_size);
}

std::vector<std::int64_t> DataLoader::epoch_order(std::int64_t epoch) const {
  if (options_.shuffle) return philox_permutation(dataset_.size(), options_.seed, shuffle_block(epoch));
  std::vector<std::int64_t> order(static_cast<std::size_t>(dataset_.size()));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  return order;
}

void DataLoader::set_state(LoaderState state) {
  CUDL_CHECK(state.epoch >= 0 && state.position >= 0 && state.position <= dataset_.size(),
             "DataLoader::set_state: expected epoch >= 0 and 0 <= position <= ", dataset_.size(), ", got epoch ",
             state.epoch, " position ", state.position);
  state_ = state;
#if CUDL_WITH_CUDA
  if (stager_) stager_->discard();
#endif
}

void DataLoader::gather(std::int64_t position, std::int64_t count, float* images, std::int64_t* labels) const {
  const std::int64_t sample = dataset_.images.numel() / dataset_.size();
  const float* src = dataset_.images.data<float>();
  const std::int64_t* src_labels = dataset_.labels.data<std::int64_t>();
#pragma omp parallel for schedule(static) if (count * sample > 65536)
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t j = order_[position + i];
    std::memcpy(images + i * sample, src + j * sample, sizeof(float) * sample);
    labels[i] = src_labels[j];
  }
  // Keyed by the sample's position in the epoch, so a resumed run crops alike.
  augment_images(images, count, dataset_.channels(), dataset_.height(), dataset_.width(), options_.augment,
                 options_.seed, augment_block(state_.epoch) + static_cast<std::uint64_t>(position));
}

Batch DataLoader::make_batch_on_host(std::int64_t position, std::int64_t count) const {
  Shape shape = dataset_.images.shape();
  shape[0] = count;
  Batch batch{Tensor::empty(shape), Tensor::empty({count}, DType::I64)};
  gather(position, count, batch.images.data<float>(), batch.labels.data<std::int64_t>());
  return batch;
}

std::optional<Batch> DataLoader::next() {
  if (order_epoch_ != state_.epoch) {
    order_ = epoch_order(state_.epoch);
    order_epoch_ = state_.epoch;
  }
  const std::int64_t count = batch_count_at(state_.position);
  if (count == 0) {
    state_ = {state_.epoch + 1, 0};
    return std::nullopt;
  }
  if (!stager_) {
    Batch batch = make_batch_on_host(state_.position, count);
    state_.position += count;
    return batch;
  }
#if CUDL_WITH_CUDA
  Shape shape = dataset_.images.shape();
  auto stage = [&](std::int64_t position, std::int64_t n) {
    const detail::BatchStager::HostBuffers buffers = stager_->acquire();
    gather(position, n, buffers.images, buffers.labels);
    shape[0] = n;
    stager_->stage(shape, {state_.epoch, position});
  };
  std::optional<Batch> batch = stager_->take(state_);
  if (!batch) {  // the first batch of an epoch, or after set_state
    stage(state_.position, count);
    batch = stager_->take(state_);
  }
  state_.position += count;
  // Queue the following batch of this epoch now, so its copy overlaps this one's training.
  if (const std::int64_t following = batch_count_at(state_.position); following > 0) stage(state_.position, following);
  return batch;
#else
  return std::nullopt;  // unreachable: the constructor refuses CUDA devices without CUDA
#endif
}

}  // namespace cudl
