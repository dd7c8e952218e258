// Mini-batches of a Dataset, shuffled per epoch and optionally augmented, as
// tensors on the training device.
//
//   DataLoader loader(splits.train, {.batch_size = 64, .seed = 7, .device = device});
//   for (int epoch = 0; epoch < epochs; ++epoch)
//     while (auto batch = loader.next()) train_step(batch->images, batch->labels);
//
// Shuffling and augmentation are Philox draws keyed by (seed, epoch, sample), so
// the order and the crops of epoch e do not depend on how the run got there: a
// run resumed from state() with set_state() sees exactly the batches the
// uninterrupted run would have.
//
// On CUDA the next batch is staged while the current one trains: it is gathered
// into a pinned host buffer and copied on a separate stream, and the compute
// stream waits on that copy's event before any kernel can read the batch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/device.h"
#include "core/tensor.h"
#include "data/dataset.h"

namespace cudl {

struct Augmentation {
  std::int64_t crop_padding = 0;  // > 0: zero-pad by this much, then crop back at a random offset
  bool horizontal_flip = false;   // flip each image with probability 1/2
  bool enabled() const { return crop_padding > 0 || horizontal_flip; }
};

struct Batch {
  Tensor images;  // float32 [B, C, H, W] on the loader's device
  Tensor labels;  // int64 [B] on the loader's device
};

// Where a loader is: the epoch and how many samples of it were handed out.
struct LoaderState {
  std::int64_t epoch = 0;
  std::int64_t position = 0;
};

struct LoaderOptions {
  std::int64_t batch_size = 100;
  bool shuffle = true;
  std::uint64_t seed = 0;
  bool drop_last = false;  // drop the final short batch of an epoch
  Augmentation augment;    // applied only when enabled()
  Device device = Device::cpu();
};

namespace detail {
class BatchStager;  // CUDA staging (data/cuda/), defined only in CUDA builds
}

class DataLoader {
 public:
  // `dataset` must outlive the loader.
  DataLoader(const Dataset& dataset, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The next batch of the current epoch, or nullopt once the epoch is exhausted;
  // the call that returns nullopt moves the loader to the next epoch.
  std::optional<Batch> next();

  std::int64_t batches_per_epoch() const;
  std::int64_t batch_size() const { return options_.batch_size; }
  const LoaderOptions& options() const { return options_; }
  const Dataset& dataset() const { return dataset_; }

  LoaderState state() const { return state_; }
  void set_state(LoaderState state);  // also discards a staged batch

  // The sample order of `epoch`: a permutation of [0, N) (identity without shuffle).
  std::vector<std::int64_t> epoch_order(std::int64_t epoch) const;

 private:
  // Samples [position, position + count) of the current epoch, gathered and
  // augmented into host memory at `images` / `labels`.
  void gather(std::int64_t position, std::int64_t count, float* images, std::int64_t* labels) const;
  std::int64_t batch_count_at(std::int64_t position) const;  // 0 when the epoch is done
  Batch make_batch_on_host(std::int64_t position, std::int64_t count) const;

  const Dataset& dataset_;
  LoaderOptions options_;
  LoaderState state_;
  std::vector<std::int64_t> order_;  // of state_.epoch
  std::int64_t order_epoch_ = -1;
  std::unique_ptr<detail::BatchStager> stager_;
};

// Pads every image of `images` [B, C, H, W] by `padding` zeros and crops back to
// H x W at a random offset, then flips it with probability 1/2 when asked. Image
// i draws from Philox block first_block + i of `seed`, so it is augmented the same
// on every run. In place on host memory.
void augment_images(float* images, std::int64_t batch, std::int64_t channels, std::int64_t height,
                    std::int64_t width, const Augmentation& augment, std::uint64_t seed, std::uint64_t first_block);

}  // namespace cudl
