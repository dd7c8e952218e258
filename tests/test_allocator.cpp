#include <cstdlib>
#include <map>

#include "core/allocator.h"
#include "tests/test_util.h"

using namespace cudl;

namespace {
// A raw allocator that counts calls and can be told to fail, standing in for cudaMalloc.
struct CountingRaw {
  int allocs = 0, frees = 0;
  std::size_t limit = SIZE_MAX, live = 0;
  std::map<void*, std::size_t> outstanding;
  CachingAllocator make() {
    return CachingAllocator(
        [this](std::size_t n) -> void* {
          if (live + n > limit) return nullptr;
          ++allocs;
          live += n;
          void* p = std::malloc(n);
          outstanding[p] = n;
          return p;
        },
        [this](void* p) {
          ++frees;
          live -= outstanding[p];
          outstanding.erase(p);
          std::free(p);
        });
  }
};
}  // namespace

TEST(CachingAllocator, ReusesFreedBlocksAndCounts) {
  CountingRaw raw;
  {
    CachingAllocator a = raw.make();
    void* p = a.allocate(1000);
    EXPECT_EQ(a.stats().bytes_in_use, 1024u);  // rounded to the 512-byte granularity
    a.deallocate(p);
    EXPECT_EQ(a.stats().bytes_in_use, 0u);
    EXPECT_EQ(a.stats().bytes_cached, 1024u);
    void* q = a.allocate(900);  // fits the cached 1024-byte block
    EXPECT_EQ(q, p);
    EXPECT_EQ(raw.allocs, 1);
    EXPECT_EQ(a.stats().cache_hits, 1u);
    void* big = a.allocate(1 << 20);
    EXPECT_EQ(a.stats().peak_bytes_in_use, 1024u + (1u << 20));
    a.deallocate(q);
    a.deallocate(big);
    EXPECT_EQ(raw.frees, 0);  // kept for reuse
  }
  EXPECT_EQ(raw.frees, raw.allocs);  // the destructor released the cache
  EXPECT_TRUE(raw.outstanding.empty());
}

TEST(CachingAllocator, DoesNotPinHugeBlocksForSmallRequests) {
  CountingRaw raw;
  CachingAllocator a = raw.make();
  a.deallocate(a.allocate(1 << 20));
  void* small = a.allocate(512);  // a 1 MiB block is more than twice too big
  EXPECT_EQ(raw.allocs, 2);
  a.deallocate(small);
}

TEST(CachingAllocator, ReleasesCacheAndRetriesWhenOutOfMemory) {
  CountingRaw raw;
  raw.limit = 4000;
  CachingAllocator a = raw.make();
  a.deallocate(a.allocate(3072));
  void* p = a.allocate(1024);  // too small to reuse 3072; 3072 + 1024 > limit: the cache is released first
  EXPECT_NE(p, nullptr);
  EXPECT_EQ(raw.frees, 1);
  try {
    a.allocate(8192);
    FAIL() << "allocation past the limit did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos) << e.what();
  }
  a.deallocate(p);
  EXPECT_THROW(a.deallocate(reinterpret_cast<void*>(0x1234)), Error);
}

TEST(CachingAllocator, CudaTensorsUseTheCache) {
  CUDL_REQUIRE_CUDA();
  CachingAllocator& a = cuda_allocator(0);
  const auto before = a.stats();
  { Tensor t = Tensor::zeros({1 << 16}, DType::F32, Device::cuda()); }
  { Tensor t = Tensor::zeros({1 << 16}, DType::F32, Device::cuda()); }
  const auto after = a.stats();
  EXPECT_GE(after.cache_hits, before.cache_hits + 1);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
}

TEST(Tensor, HostDeviceRoundTrip) {
  CUDL_REQUIRE_CUDA();
  Tensor h = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor d = h.to(Device::cuda());
  EXPECT_TRUE(d.is_cuda());
  Tensor d2 = d.reshape({3, 2}).slice(1, 3).clone();
  EXPECT_EQ(d2.to_vector(), (std::vector<float>{3, 4, 5, 6}));
  d.fill(2.5f);
  EXPECT_EQ(d.to_vector(), std::vector<float>(6, 2.5f));
  EXPECT_EQ(h.to_vector(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}
