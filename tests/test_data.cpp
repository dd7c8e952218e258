// Datasets and the loader: IDX and CIFAR-10 files the tests write, splits,
// normalisation, reproducible shuffling and augmentation, resumable loaders, and
// the real Fashion-MNIST files where they are installed.
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <numeric>
#include <set>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "tests/test_util.h"

using namespace cudl;
namespace fs = std::filesystem;

namespace {

// An IDX file of unsigned bytes: magic 0x0000080N, N big-endian dims, then data.
std::string idx_bytes(const std::vector<std::int32_t>& dims, const std::vector<std::uint8_t>& data) {
  std::string out = {0, 0, 8, static_cast<char>(dims.size())};
  for (std::int32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((d >> shift) & 0xFF));
  out.append(data.begin(), data.end());
  return out;
}

void write_file(const fs::path& path, const std::string& bytes, bool gzip = false) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
}

class Data : public test::ScratchDirTest {};

// A dataset of n single-channel 2x3 images whose pixels all equal the sample's
// index, with label index % 10: which sample landed where stays visible.
Dataset indexed_dataset(std::int64_t n, std::int64_t channels = 1, std::int64_t h = 2, std::int64_t w = 3) {
  Dataset d{Tensor::empty({n, channels, h, w}), Tensor::empty({n}, DType::I64), {}};
  for (int i = 0; i < 10; ++i) d.class_names.push_back(std::to_string(i));
  float* x = d.images.data<float>();
  for (std::int64_t i = 0; i < d.images.numel(); ++i) x[i] = static_cast<float>(i / (channels * h * w));
  for (std::int64_t i = 0; i < n; ++i) d.labels.data<std::int64_t>()[i] = i % 10;
  return d;
}

std::vector<std::int64_t> sample_ids(const Batch& b) {
  const std::vector<float> x = b.images.to_vector();
  const std::int64_t per = b.images.numel() / b.images.size(0);
  std::vector<std::int64_t> ids;
  for (std::int64_t i = 0; i < b.images.size(0); ++i) ids.push_back(static_cast<std::int64_t>(x[i * per]));
  return ids;
}

}  // namespace

TEST_F(Data, IdxFolderLoadsRawAndGzippedFiles) {
  // 3 training images of 2x2 (pixels 0, 51, ..., 255), 2 test images.
  write_file(dir_ / "train-images-idx3-ubyte", idx_bytes({3, 2, 2}, {0, 51, 102, 153, 204, 255, 0, 0, 255, 255, 255, 255}));
  write_file(dir_ / "train-labels-idx1-ubyte.gz", idx_bytes({3}, {7, 0, 9}), true);
  write_file(dir_ / "t10k-images-idx3-ubyte.gz", idx_bytes({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}), true);
  write_file(dir_ / "t10k-labels-idx1-ubyte", idx_bytes({2}, {1, 2}));
  const DatasetSplits s = load_mnist(dir_.string());
  EXPECT_EQ(s.train.images.shape(), (Shape{3, 1, 2, 2}));
  EXPECT_EQ(s.test.images.shape(), (Shape{2, 1, 2, 2}));
  EXPECT_EQ(s.train.labels.to_vector_i64(), (std::vector<std::int64_t>{7, 0, 9}));
  EXPECT_EQ(s.test.labels.to_vector_i64(), (std::vector<std::int64_t>{1, 2}));
  const std::vector<float> x = s.train.images.to_vector();
  EXPECT_FLOAT_EQ(x[0], 0.0f);
  EXPECT_FLOAT_EQ(x[1], 0.2f);
  EXPECT_FLOAT_EQ(x[5], 1.0f);
  EXPECT_EQ(s.train.num_classes(), 10);
}

TEST_F(Data, IdxRejectsMismatchedCountsAndLabelsOutOfRange) {
  write_file(dir_ / "img", idx_bytes({2, 1, 1}, {0, 1}));
  write_file(dir_ / "lab3", idx_bytes({3}, {0, 1, 2}));
  write_file(dir_ / "lab_bad", idx_bytes({2}, {0, 10}));
  EXPECT_THROW(load_idx_dataset((dir_ / "img").string(), (dir_ / "lab3").string(), {"a", "b", "c"}), Error);
  EXPECT_THROW(load_idx_dataset((dir_ / "img").string(), (dir_ / "lab_bad").string(), fashion_mnist_classes()), Error);
}

TEST_F(Data, MissingFilesPointToTheSetupScript) {
  try {
    load_fashion_mnist((dir_ / "nowhere").string());
    FAIL() << "no error for a missing folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scripts/setup.sh"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_cifar10(dir_.string()), Error);
}

TEST_F(Data, Cifar10BatchesKeepChannelMajorRecords) {
  auto record = [](std::uint8_t label, std::uint8_t base) {
    std::string r(1 + 3072, '\0');
    r[0] = static_cast<char>(label);
    for (int c = 0; c < 3; ++c) r[1 + c * 1024] = static_cast<char>(base + c);  // pixel (0, 0) of each channel
    r[1 + 1023] = static_cast<char>(255);                                          // red (31, 31)
    return r;
  };
  write_file(dir_ / "a.bin", record(3, 10) + record(9, 20) + record(0, 30));
  write_file(dir_ / "b.bin", record(5, 40));
  const Dataset d = load_cifar10_batches({(dir_ / "a.bin").string(), (dir_ / "b.bin").string()});
  EXPECT_EQ(d.images.shape(), (Shape{4, 3, 32, 32}));
  EXPECT_EQ(d.labels.to_vector_i64(), (std::vector<std::int64_t>{3, 9, 0, 5}));
  const std::vector<float> x = d.images.to_vector();
  const std::int64_t img = 3 * 1024;
  EXPECT_FLOAT_EQ(x[1 * img + 0 * 1024], 20.0f / 255.0f);  // sample 1, red
  EXPECT_FLOAT_EQ(x[1 * img + 2 * 1024], 22.0f / 255.0f);  // sample 1, blue
  EXPECT_FLOAT_EQ(x[3 * img + 1023], 1.0f);
  EXPECT_EQ(d.class_names.at(3), "cat");

  write_file(dir_ / "short.bin", record(1, 1).substr(0, 3000));
  EXPECT_THROW(load_cifar10_batches({(dir_ / "short.bin").string()}), Error);
}

TEST(DataSplit, LastAndRandomSplitsPartitionTheTrainingSet) {
  DatasetSplits s{indexed_dataset(50), {}, {}};
  split_validation_last(s, 10);
  EXPECT_EQ(s.train.size(), 40);
  EXPECT_EQ(s.val.size(), 10);
  EXPECT_EQ(s.val.labels.to_vector_i64().front(), 40 % 10);

  DatasetSplits r{indexed_dataset(50), {}, {}};
  split_validation_random(r, 12, 99);
  ASSERT_EQ(r.train.size(), 38);
  ASSERT_EQ(r.val.size(), 12);
  std::set<float> seen;
  for (const Dataset* d : {&r.train, &r.val})
    for (std::int64_t i = 0; i < d->size(); ++i) seen.insert(d->images.to_vector()[i * 6]);
  EXPECT_EQ(seen.size(), 50u);  // every sample exactly once

  DatasetSplits again{indexed_dataset(50), {}, {}};
  split_validation_random(again, 12, 99);
  EXPECT_EQ(again.val.images.to_vector(), r.val.images.to_vector());
  EXPECT_THROW(split_validation_last(again, 38), Error);
}

TEST(DataNormalize, TrainingStatisticsGiveZeroMeanUnitStd) {
  DatasetSplits s{indexed_dataset(20, 3), {}, indexed_dataset(5, 3)};
  float* x = s.train.images.data<float>();
  for (std::int64_t i = 0; i < s.train.images.numel(); ++i) x[i] = x[i] * ((i / 6) % 3 + 1) + (i / 6) % 3;  // per-channel scale and shift
  const Normalization norm = normalize_splits(s);
  ASSERT_EQ(norm.mean.size(), 3u);
  EXPECT_NEAR(norm.mean[0], 9.5, 1e-5);  // samples 0..19
  EXPECT_NEAR(norm.stddev[0], std::sqrt((20.0 * 20 - 1) / 12), 1e-4);
  const Normalization after = compute_normalization(s.train);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(after.mean[c], 0.0, 1e-5);
    EXPECT_NEAR(after.stddev[c], 1.0, 1e-4);
  }
  // The test split used the training statistics: sample 0 of channel 0 is (0 - 9.5) / std.
  EXPECT_NEAR(s.test.images.to_vector()[0], -9.5 / norm.stddev[0], 1e-5);
}

TEST(DataLoaderTest, EachEpochIsAReproduciblePermutation) {
  const Dataset d = indexed_dataset(103);
  DataLoader loader(d, {.batch_size = 10, .seed = 5});
  EXPECT_EQ(loader.batches_per_epoch(), 11);
  std::vector<std::vector<std::int64_t>> epochs;
  for (int e = 0; e < 2; ++e) {
    std::vector<std::int64_t> ids;
    int batches = 0;
    while (auto b = loader.next()) {
      ++batches;
      EXPECT_EQ(b->labels.numel(), b->images.size(0));
      for (std::int64_t id : sample_ids(*b)) ids.push_back(id);
    }
    EXPECT_EQ(batches, 11);
    std::vector<std::int64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int64_t> all(103);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all) << "epoch " << e << " is not a permutation";
    EXPECT_EQ(ids, loader.epoch_order(e));
    epochs.push_back(ids);
  }
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[0], DataLoader(d, {.batch_size = 10, .shuffle = false}).epoch_order(0));  // really shuffled
  DataLoader same_seed(d, {.batch_size = 10, .seed = 5}), other_seed(d, {.batch_size = 10, .seed = 6});
  EXPECT_EQ(same_seed.epoch_order(1), epochs[1]);
  EXPECT_NE(other_seed.epoch_order(0), epochs[0]);
}

TEST(DataLoaderTest, DropLastAndUnshuffledOrder) {
  const Dataset d = indexed_dataset(25);
  DataLoader loader(d, {.batch_size = 10, .shuffle = false, .drop_last = true});
  EXPECT_EQ(loader.batches_per_epoch(), 2);
  auto first = loader.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(sample_ids(*first), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(first->labels.to_vector_i64()[3], 3);
  ASSERT_TRUE(loader.next());
  EXPECT_FALSE(loader.next());  // the 5 left over are dropped
  EXPECT_EQ(loader.state().epoch, 1);
}

TEST(DataLoaderTest, ResumingFromStateGivesTheSameBatches) {
  const Dataset d = indexed_dataset(64, 1, 4, 4);
  const LoaderOptions options{.batch_size = 8, .seed = 3, .augment = {.crop_padding = 1, .horizontal_flip = true}};
  DataLoader straight(d, options);
  for (int i = 0; i < 11; ++i) straight.next();  // into the second epoch (8 batches + end + 2)
  const LoaderState saved = straight.state();
  EXPECT_EQ(saved.epoch, 1);
  EXPECT_EQ(saved.position, 16);
  DataLoader resumed(d, options);
  resumed.set_state(saved);
  for (int i = 0; i < 4; ++i) {
    auto a = straight.next(), b = resumed.next();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->images.to_vector(), b->images.to_vector()) << "batch " << i;
    EXPECT_EQ(a->labels.to_vector_i64(), b->labels.to_vector_i64());
  }
}

TEST(DataAugment, FlipMirrorsAndCropShiftsWithinThePadding) {
  // One 1x3x4 image 0..11, flipped or not, 64 times: both outcomes must occur.
  const std::int64_t n = 64, h = 3, w = 4;
  std::vector<float> images(n * h * w);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(i % (h * w));
  std::vector<float> flipped = images;
  augment_images(flipped.data(), n, 1, h, w, {.horizontal_flip = true}, 17, 0);
  int mirrored = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float* img = flipped.data() + i * h * w;
    const bool is_mirror = img[0] == 3.0f && img[3] == 0.0f && img[4] == 7.0f;
    const bool is_same = img[0] == 0.0f && img[3] == 3.0f && img[4] == 4.0f;
    EXPECT_TRUE(is_mirror || is_same) << "image " << i;
    mirrored += is_mirror;
  }
  EXPECT_GT(mirrored, 10);
  EXPECT_LT(mirrored, 54);

  std::vector<float> cropped(n * h * w, 1.0f), again(n * h * w, 1.0f);
  augment_images(cropped.data(), n, 1, h, w, {.crop_padding = 2}, 17, 0);
  augment_images(again.data(), n, 1, h, w, {.crop_padding = 2}, 17, 0);
  EXPECT_EQ(cropped, again);  // same seed and blocks, same crops
  int shifted = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float* img = cropped.data() + i * h * w;
    // A shifted window over a zero-padded all-ones image: ones fill exactly the
    // rectangle spanned by the rows and columns that hold any.
    std::set<std::int64_t> rows, cols;
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        if (img[y * w + x] == 1.0f) rows.insert(y), cols.insert(x);
    const auto ones = static_cast<std::size_t>(std::count(img, img + h * w, 1.0f));
    EXPECT_EQ(ones, rows.size() * cols.size()) << "image " << i;
    EXPECT_GE(rows.size(), static_cast<std::size_t>(h - 2));
    EXPECT_GE(cols.size(), static_cast<std::size_t>(w - 2));
    shifted += ones < static_cast<std::size_t>(h * w);
  }
  EXPECT_GT(shifted, 32);  // most of the 25 offsets move the window
}

TEST(DataLoaderTest, CudaBatchesMatchCpuBatches) {
  CUDL_REQUIRE_CUDA();
  const Dataset d = indexed_dataset(37, 3, 5, 5);
  const LoaderOptions cpu{.batch_size = 8, .seed = 9, .augment = {.crop_padding = 1, .horizontal_flip = true}};
  LoaderOptions gpu = cpu;
  gpu.device = Device::cuda();
  DataLoader a(d, cpu), b(d, gpu);
  for (int epoch = 0; epoch < 2; ++epoch) {
    while (true) {
      auto x = a.next(), y = b.next();
      ASSERT_EQ(x.has_value(), y.has_value());
      if (!x) break;
      EXPECT_TRUE(y->images.is_cuda());
      EXPECT_EQ(x->images.to_vector(), y->images.to_vector());
      EXPECT_EQ(x->labels.to_vector_i64(), y->labels.to_vector_i64());
    }
  }
}

TEST(FashionMnist, RealFilesLoad) {
  if (!fs::exists(kFashionMnistDir)) GTEST_SKIP() << kFashionMnistDir << " is missing: run scripts/setup.sh";
  const DatasetSplits s = load_fashion_mnist();
  EXPECT_EQ(s.train.images.shape(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(s.test.images.shape(), (Shape{10000, 1, 28, 28}));
  for (const Dataset* d : {&s.train, &s.test}) {
    const std::vector<std::int64_t> labels = d->labels.to_vector_i64();
    const auto [lo, hi] = std::minmax_element(labels.begin(), labels.end());
    EXPECT_EQ(*lo, 0);
    EXPECT_EQ(*hi, 9);
  }
  EXPECT_EQ(s.train.class_names.at(9), "Ankle boot");
  const Normalization norm = compute_normalization(s.train);
  EXPECT_NEAR(norm.mean[0], 0.286, 0.01);  // Fashion-MNIST's well-known pixel mean and std
  EXPECT_NEAR(norm.stddev[0], 0.353, 0.01);
}

// Errors that blame the right thing (issue #14).
TEST_F(Data, MessagesNameTheRealProblem) {
  write_file(dir_ / "img", idx_bytes({2, 1, 1}, {0, 1}));
  write_file(dir_ / "lab", idx_bytes({2}, {0, 1}));
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // A one-class list is the caller's mistake, not the label file's.
  EXPECT_NE(message([&] { load_idx_dataset((dir_ / "img").string(), (dir_ / "lab").string(), {"only"}); })
                .find("expected 2 to 256 class names"),
            std::string::npos);
  DatasetSplits empty;
  empty.train = indexed_dataset(0);
  EXPECT_NE(message([&] { split_validation_last(empty, 5); }).find("the training set has 0 samples"), std::string::npos);
  EXPECT_NE(message([&] { split_validation_random(empty, 5, 0); }).find("the training set has 0 samples"),
            std::string::npos);
}
