// Memory for tensors.
//
// Host memory is 64-byte aligned (AVX-512 loads). Device memory goes through a
// CachingAllocator: a freed block is kept and handed to the next request of a
// similar size instead of going back to cudaFree, which synchronises the
// device and costs tens of microseconds. All work runs on one stream per device,
// so a block freed on the host can be reused at once: later kernels on the same
// stream are ordered after the ones that used it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

#include "core/device.h"

namespace cudl {

struct AllocatorStats {
  std::size_t bytes_in_use = 0;   // handed out and not yet freed
  std::size_t peak_bytes_in_use = 0;
  std::size_t bytes_cached = 0;   // freed by tensors, kept for reuse
  std::size_t bytes_reserved = 0; // obtained from the raw allocator and not released
  std::uint64_t allocations = 0;
  std::uint64_t cache_hits = 0;   // allocations served from the cache
};

// Caches freed blocks of a raw allocator (cudaMalloc/cudaFree on the GPU).
// Sizes are rounded up to 512 bytes; a request is served by the smallest cached
// block at least as large and at most twice as large, so small requests do not pin
// huge blocks. If the raw allocator fails, the cache is released and it tries once
// more before reporting the failure.
class CachingAllocator {
 public:
  using RawAlloc = std::function<void*(std::size_t)>;  // returns nullptr on failure
  using RawFree = std::function<void(void*)>;

  CachingAllocator(RawAlloc raw_alloc, RawFree raw_free);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(std::size_t bytes);  // throws cudl::Error when out of memory
  void deallocate(void* ptr);
  AllocatorStats stats() const;
  void reset_peak();

  static constexpr std::size_t kGranularity = 512;

 private:
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  mutable std::mutex mutex_;
  std::multimap<std::size_t, void*> cached_;           // size -> block
  std::unordered_map<void*, std::size_t> live_;        // block -> size
  AllocatorStats stats_;
  void release_cache_locked();  // hands every cached block back to the raw allocator
};

// Raw storage for tensors on any device; `bytes` as allocated.
void* allocate_bytes(std::size_t bytes, Device device);
void free_bytes(void* ptr, std::size_t bytes, Device device);

// Host tensor memory: bytes in use now, the peak since the last reset.
std::size_t host_bytes_in_use();
std::size_t host_peak_bytes_in_use();
void reset_host_peak();

// The allocator of a CUDA device (throws when the build or machine has no CUDA).
CachingAllocator& cuda_allocator(int device_index = 0);

}  // namespace cudl
