// Image classification datasets held on the host.
//
// Loaders return images as float32 [N, C, H, W] scaled to [0, 1] and labels as
// int64 [N]. normalize() then applies (x - mean) / std per channel with
// statistics computed on the training split (or given). Missing files throw
// cudl::Error naming the file and telling the user to run scripts/setup.sh.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace cudl {

struct Dataset {
  Tensor images;  // float32 [N, C, H, W], host
  Tensor labels;  // int64 [N], host
  std::vector<std::string> class_names;

  std::int64_t size() const { return labels.defined() ? labels.numel() : 0; }
  std::int64_t channels() const { return images.size(1); }
  std::int64_t height() const { return images.size(2); }
  std::int64_t width() const { return images.size(3); }
  std::int64_t num_classes() const { return static_cast<std::int64_t>(class_names.size()); }
  // Samples [begin, end) as a copy (so the result owns its memory).
  Dataset slice(std::int64_t begin, std::int64_t end) const;
  // The samples at `indices`, in that order, as a copy.
  Dataset gather(const std::vector<std::int64_t>& indices) const;
};

struct DatasetSplits {
  Dataset train;
  Dataset val;   // empty (size() == 0) until split off the training set
  Dataset test;
};

// ---- MNIST-format IDX files (raw or .gz) ----
// Images [N, H, W] uint8 -> [N, 1, H, W] in [0, 1]; labels [N] uint8 -> int64.
// Throws when the two files disagree on N or a label is >= class_names.size().
Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                         std::vector<std::string> class_names);
// The four standard files of `dir` (train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), each with or without ".gz".
DatasetSplits load_mnist_format(const std::string& dir, std::vector<std::string> class_names);
DatasetSplits load_mnist(const std::string& dir);  // class names "0".."9"
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
DatasetSplits load_fashion_mnist(const std::string& dir = kFashionMnistDir);
const std::vector<std::string>& fashion_mnist_classes();  // "T-shirt/top", "Trouser", ...

// ---- CIFAR-10 binary batches ----
// Each record: 1 label byte, then 3072 bytes (1024 red, 1024 green, 1024 blue,
// rows of 32). Returns [N, 3, 32, 32] in [0, 1].
Dataset load_cifar10_batches(const std::vector<std::string>& paths);
// data_batch_1..5.bin -> train, test_batch.bin -> test, under `dir` (or
// `dir`/cifar-10-batches-bin).
DatasetSplits load_cifar10(const std::string& dir);
const std::vector<std::string>& cifar10_classes();  // "airplane", "automobile", ...

// ---- splits ----
// Moves the last `val_count` training samples into splits.val.
void split_validation_last(DatasetSplits& splits, std::int64_t val_count);
// Moves `val_count` samples, chosen by a Philox permutation of `seed`, into
// splits.val; both parts keep their original relative order.
void split_validation_random(DatasetSplits& splits, std::int64_t val_count, std::uint64_t seed);

// ---- normalisation ----
struct Normalization {
  std::vector<float> mean;    // per channel
  std::vector<float> stddev;  // per channel
};
// Per-channel mean and (population) standard deviation over all samples and pixels.
Normalization compute_normalization(const Dataset& dataset);
// x = (x - mean[c]) / stddev[c], in place.
void normalize(Dataset& dataset, const Normalization& norm);
// Statistics from splits.train, applied to train, val and test; returns them
// (a checkpoint stores them to normalise inputs at inference time).
Normalization normalize_splits(DatasetSplits& splits);

}  // namespace cudl
