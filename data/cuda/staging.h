// Double-buffered host-to-device staging of batches (CUDA builds only).
//
// A batch is gathered into one of two pinned host buffers, copied to fresh device
// tensors on a copy stream of its own, and an event marks the copy's end. The
// compute stream waits on that event before the batch is handed out, so kernels
// never read a half-copied batch, while the copy of batch i+1 overlaps the
// training on batch i.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <optional>

#include "core/tensor.h"
#include "data/loader.h"

namespace cudl::detail {

class BatchStager {
 public:
  BatchStager(Device device, std::int64_t sample_floats, std::int64_t max_batch);
  ~BatchStager();
  BatchStager(const BatchStager&) = delete;
  BatchStager& operator=(const BatchStager&) = delete;

  struct HostBuffers {
    float* images;
    std::int64_t* labels;
  };
  // The buffers of the next slot, once the copy that last read them has finished.
  HostBuffers acquire();
  // Queues the copy of the acquired buffers' first shape[0] samples, as the batch at `state`.
  void stage(const Shape& image_shape, LoaderState state);
  // The staged batch if it is the one at `state` (the compute stream then waits
  // for its copy); otherwise the staged batch, if any, is dropped and nullopt returned.
  std::optional<Batch> take(LoaderState state);
  void discard();

 private:
  struct Slot {
    float* images = nullptr;         // pinned
    std::int64_t* labels = nullptr;  // pinned
    cudaEvent_t copied = nullptr;
  };
  Device device_;
  std::int64_t sample_floats_, max_batch_;
  cudaStream_t copy_stream_ = nullptr;
  cudaEvent_t compute_ready_ = nullptr;
  Slot slots_[2];
  int next_slot_ = 0;
  std::optional<Batch> staged_;
  LoaderState staged_state_;
  int staged_slot_ = 0;
};

}  // namespace cudl::detail
