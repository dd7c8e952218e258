#include "data/cuda/staging.h"

#include "core/cuda/context.h"

namespace cudl::detail {

BatchStager::BatchStager(Device device, std::int64_t sample_floats, std::int64_t max_batch)
    : device_(device), sample_floats_(sample_floats), max_batch_(max_batch) {
  cuda::context(device.index);  // makes the device current
  CUDL_CUDA_CALL(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
  CUDL_CUDA_CALL(cudaEventCreateWithFlags(&compute_ready_, cudaEventDisableTiming));
  for (Slot& slot : slots_) {
    CUDL_CUDA_CALL(cudaHostAlloc(reinterpret_cast<void**>(&slot.images), sizeof(float) * sample_floats * max_batch,
                                 cudaHostAllocDefault));
    CUDL_CUDA_CALL(cudaHostAlloc(reinterpret_cast<void**>(&slot.labels), sizeof(std::int64_t) * max_batch,
                                 cudaHostAllocDefault));
    CUDL_CUDA_CALL(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
  }
}

// Destructors must not throw: errors here are ignored (the process is usually
// ending, or the device is already broken and the caller has been told).
BatchStager::~BatchStager() {
  try {
    discard();
  } catch (...) {
  }
  cudaStreamSynchronize(copy_stream_);
  for (Slot& slot : slots_) {
    cudaFreeHost(slot.images);
    cudaFreeHost(slot.labels);
    cudaEventDestroy(slot.copied);
  }
  cudaEventDestroy(compute_ready_);
  cudaStreamDestroy(copy_stream_);
}

BatchStager::HostBuffers BatchStager::acquire() {
  Slot& slot = slots_[next_slot_];
  CUDL_CUDA_CALL(cudaEventSynchronize(slot.copied));  // a never-recorded event returns at once
  return {slot.images, slot.labels};
}

void BatchStager::stage(const Shape& image_shape, LoaderState state) {
  discard();
  const std::int64_t count = image_shape[0];
  CUDL_CHECK(count <= max_batch_, "BatchStager: a batch of ", count, " exceeds the buffers' ", max_batch_);
  Slot& slot = slots_[next_slot_];
  Batch batch{Tensor::empty(image_shape, DType::F32, device_), Tensor::empty({count}, DType::I64, device_)};
  // The caching allocator may hand out memory that kernels already queued on the
  // compute stream still use; the copy must start only after them.
  cudaStream_t compute = cuda::stream(device_.index);
  CUDL_CUDA_CALL(cudaEventRecord(compute_ready_, compute));
  CUDL_CUDA_CALL(cudaStreamWaitEvent(copy_stream_, compute_ready_, 0));
  CUDL_CUDA_CALL(cudaMemcpyAsync(batch.images.raw_data(), slot.images, sizeof(float) * sample_floats_ * count,
                                 cudaMemcpyHostToDevice, copy_stream_));
  CUDL_CUDA_CALL(cudaMemcpyAsync(batch.labels.raw_data(), slot.labels, sizeof(std::int64_t) * count,
                                 cudaMemcpyHostToDevice, copy_stream_));
  CUDL_CUDA_CALL(cudaEventRecord(slot.copied, copy_stream_));
  staged_ = std::move(batch);
  staged_state_ = state;
  staged_slot_ = next_slot_;
  next_slot_ = 1 - next_slot_;
}

std::optional<Batch> BatchStager::take(LoaderState state) {
  if (!staged_ || staged_state_.epoch != state.epoch || staged_state_.position != state.position) {
    discard();
    return std::nullopt;
  }
  CUDL_CUDA_CALL(cudaStreamWaitEvent(cuda::stream(device_.index), slots_[staged_slot_].copied, 0));
  std::optional<Batch> batch = std::move(staged_);
  staged_.reset();
  return batch;
}

void BatchStager::discard() {
  if (!staged_) return;
  // The tensors go back to the allocator, which serves the compute stream: order
  // that stream after the copy still writing into them.
  CUDL_CUDA_CALL(cudaStreamWaitEvent(cuda::stream(device_.index), slots_[staged_slot_].copied, 0));
  staged_.reset();
}

}  // namespace cudl::detail
