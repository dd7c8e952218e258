#include "core/allocator.h"

#include <atomic>
#include <cstdlib>
#include <new>

#include "core/error.h"

namespace cudl {

CachingAllocator::CachingAllocator(RawAlloc raw_alloc, RawFree raw_free)
    : raw_alloc_(std::move(raw_alloc)), raw_free_(std::move(raw_free)) {}

CachingAllocator::~CachingAllocator() {
  // Blocks still live belong to tensors that outlive the allocator (static
  // destruction order); their memory is reclaimed by the driver at exit.
  std::lock_guard<std::mutex> lock(mutex_);
  release_cache_locked();
}

void* CachingAllocator::allocate(std::size_t bytes) {
  const std::size_t size = ((bytes + kGranularity - 1) / kGranularity) * kGranularity + (bytes == 0 ? kGranularity : 0);
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.allocations;
  void* ptr = nullptr;
  std::size_t block = size;
  auto it = cached_.lower_bound(size);
  if (it != cached_.end() && it->first <= 2 * size) {
    ptr = it->second;
    block = it->first;
    cached_.erase(it);
    stats_.bytes_cached -= block;
    ++stats_.cache_hits;
  } else {
    ptr = raw_alloc_(size);
    if (ptr == nullptr) {  // free what we hold and try again before giving up
      release_cache_locked();
      ptr = raw_alloc_(size);
    }
    CUDL_CHECK(ptr != nullptr, "allocator: out of memory allocating ", size, " bytes (", stats_.bytes_in_use,
               " bytes in use)");
    stats_.bytes_reserved += size;
  }
  live_[ptr] = block;
  stats_.bytes_in_use += block;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  CUDL_CHECK(it != live_.end(), "allocator: freeing a pointer it did not allocate");
  const std::size_t block = it->second;
  live_.erase(it);
  stats_.bytes_in_use -= block;
  stats_.bytes_cached += block;
  cached_.emplace(block, ptr);
}

void CachingAllocator::release_cache_locked() {
  for (auto& [size, ptr] : cached_) {
    raw_free_(ptr);
    stats_.bytes_reserved -= size;
  }
  cached_.clear();
  stats_.bytes_cached = 0;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

#if !CUDL_WITH_CUDA
CachingAllocator& cuda_allocator(int) {
  detail::throw_error("cuda: no usable CUDA device (", cuda_unavailable_reason(), ")");
}
#endif

namespace {
// Host tensors' bytes in use and their peak: the same accounting a GPU's caching
// allocator keeps, so memory claims (freed activations) are checked on the CPU too.
std::atomic<std::size_t> g_host_in_use{0}, g_host_peak{0};
}  // namespace

std::size_t host_bytes_in_use() { return g_host_in_use.load(); }
std::size_t host_peak_bytes_in_use() { return g_host_peak.load(); }
void reset_host_peak() { g_host_peak.store(g_host_in_use.load()); }

void* allocate_bytes(std::size_t bytes, Device device) {
  if (device.is_cuda()) return cuda_allocator(device.index).allocate(bytes);
  constexpr std::size_t kAlign = 64;
  const std::size_t rounded = ((bytes + kAlign - 1) / kAlign) * kAlign;
  void* ptr = std::aligned_alloc(kAlign, rounded == 0 ? kAlign : rounded);
  CUDL_CHECK(ptr != nullptr, "allocator: out of host memory allocating ", bytes, " bytes");
  const std::size_t now = g_host_in_use.fetch_add(bytes) + bytes;
  std::size_t peak = g_host_peak.load();
  while (now > peak && !g_host_peak.compare_exchange_weak(peak, now)) {
  }
  return ptr;
}

void free_bytes(void* ptr, std::size_t bytes, Device device) {
  if (device.is_cuda()) {
    cuda_allocator(device.index).deallocate(ptr);
  } else {
    std::free(ptr);
    g_host_in_use.fetch_sub(bytes);
  }
}

}  // namespace cudl
