#include "data/dataset.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "core/formats/idx.h"
#include "data/permutation.h"

namespace cudl {

namespace fs = std::filesystem;

namespace {
[[noreturn]] void throw_missing(const std::string& what, const std::string& where) {
  detail::throw_error(what, " not found in ", where,
                      ". Run scripts/setup.sh to install the datasets cudl uses (Fashion-MNIST), or pass the folder "
                      "that holds the files.");
}

void check_dataset(const char* op, const Dataset& d) {
  check_ndim(op, "images", d.images, 4);
  check_float(op, "images", d.images);
  check_dtype(op, "labels", d.labels, DType::I64);
  CUDL_CHECK(d.images.size(0) == d.labels.numel(), op, ": ", d.images.size(0), " images but ", d.labels.numel(),
             " labels");
  CUDL_CHECK(d.images.device().is_cpu() && d.labels.device().is_cpu(), op, ": datasets live on the host, got images ",
             d.images.str());
}

// Bytes in [0, 255] to floats in [0, 1].
Tensor bytes_to_unit_floats(const std::uint8_t* bytes, const Shape& shape) {
  Tensor out = Tensor::empty(shape);
  float* p = out.data<float>();
  const std::int64_t n = out.numel();
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) p[i] = bytes[i] * (1.0f / 255.0f);
  return out;
}

Tensor labels_from_bytes(const std::uint8_t* bytes, std::int64_t n, std::int64_t num_classes, const std::string& source) {
  Tensor labels = Tensor::empty({n}, DType::I64);
  std::int64_t* p = labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    CUDL_CHECK(bytes[i] < num_classes, source, ": label ", int(bytes[i]), " of sample ", i, " is not below the ",
               num_classes, " classes");
    p[i] = bytes[i];
  }
  return labels;
}

std::vector<std::string> digit_classes() {
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back(std::to_string(i));
  return names;
}

// Samples [begin, end) of a tensor whose dim 0 indexes samples, as an owning copy.
Tensor copy_rows(const Tensor& t, std::int64_t begin, std::int64_t end) { return t.slice(begin, end).clone(); }
}  // namespace

// ---- Dataset ----
Dataset Dataset::slice(std::int64_t begin, std::int64_t end) const {
  CUDL_CHECK(0 <= begin && begin <= end && end <= size(), "Dataset::slice: expected 0 <= begin <= end <= ", size(),
             ", got [", begin, ", ", end, ")");
  return {copy_rows(images, begin, end), copy_rows(labels, begin, end), class_names};
}

Dataset Dataset::gather(const std::vector<std::int64_t>& indices) const {
  const std::int64_t n = static_cast<std::int64_t>(indices.size()), sample = images.numel() / std::max<std::int64_t>(size(), 1);
  Shape shape = images.shape();
  shape[0] = n;
  Dataset out{Tensor::empty(shape), Tensor::empty({n}, DType::I64), class_names};
  const float* src = images.data<float>();
  const std::int64_t* src_labels = labels.data<std::int64_t>();
  float* dst = out.images.data<float>();
  std::int64_t* dst_labels = out.labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t j = indices[i];
    CUDL_CHECK(0 <= j && j < size(), "Dataset::gather: index ", j, " out of range [0, ", size(), ")");
    std::memcpy(dst + i * sample, src + j * sample, sizeof(float) * sample);
    dst_labels[i] = src_labels[j];
  }
  return out;
}

// ---- IDX (MNIST format) ----
Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                         std::vector<std::string> class_names) {
  CUDL_CHECK(class_names.size() >= 2 && class_names.size() <= 256, "load_idx_dataset: expected 2 to 256 class names "
             "(labels are bytes), got ", class_names.size());
  for (const std::string& path : {images_path, labels_path})
    if (!fs::exists(path)) throw_missing(fs::path(path).filename().string(), fs::path(path).parent_path().string());
  const Tensor raw_images = read_idx(images_path), raw_labels = read_idx(labels_path);
  CUDL_CHECK(raw_images.dim() == 3, images_path, ": expected images [N, H, W], got ", raw_images.str());
  CUDL_CHECK(raw_labels.dim() == 1, labels_path, ": expected labels [N], got ", raw_labels.str());
  const std::int64_t n = raw_images.size(0);
  CUDL_CHECK(raw_labels.numel() == n, images_path, " holds ", n, " images but ", labels_path, " holds ",
             raw_labels.numel(), " labels");
  Dataset d;
  d.images = bytes_to_unit_floats(raw_images.data<std::uint8_t>(), {n, 1, raw_images.size(1), raw_images.size(2)});
  d.labels = labels_from_bytes(raw_labels.data<std::uint8_t>(), n, static_cast<std::int64_t>(class_names.size()),
                               labels_path);
  d.class_names = std::move(class_names);
  return d;
}

DatasetSplits load_mnist_format(const std::string& dir, std::vector<std::string> class_names) {
  // The usual name, the variant with a dot ("train-images.idx3-ubyte"), each raw or gzipped.
  auto find = [&](const std::string& stem, const std::string& kind) {
    for (const std::string& name : {stem + "-" + kind, stem + "." + kind})
      for (const char* suffix : {"", ".gz"}) {
        const fs::path path = fs::path(dir) / (name + suffix);
        if (fs::exists(path)) return path.string();
      }
    throw_missing(stem + "-" + kind + "[.gz]", dir);
  };
  DatasetSplits splits;
  splits.train = load_idx_dataset(find("train-images", "idx3-ubyte"), find("train-labels", "idx1-ubyte"), class_names);
  const std::string test_images = find("t10k-images", "idx3-ubyte");
  splits.test = load_idx_dataset(test_images, find("t10k-labels", "idx1-ubyte"), std::move(class_names));
  // Caught here rather than by the first layer after training.
  CUDL_CHECK(splits.test.height() == splits.train.height() && splits.test.width() == splits.train.width(), test_images,
             ": test images are ", splits.test.height(), "x", splits.test.width(), " but the training images in ", dir,
             " are ", splits.train.height(), "x", splits.train.width());
  return splits;
}

DatasetSplits load_mnist(const std::string& dir) { return load_mnist_format(dir, digit_classes()); }

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

DatasetSplits load_fashion_mnist(const std::string& dir) { return load_mnist_format(dir, fashion_mnist_classes()); }

// ---- CIFAR-10 ----
const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

Dataset load_cifar10_batches(const std::vector<std::string>& paths) {
  constexpr std::int64_t kPixels = 3 * 32 * 32, kRecord = 1 + kPixels;
  std::vector<std::uint8_t> labels, pixels;
  for (const std::string& path : paths) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw_missing(fs::path(path).filename().string(), fs::path(path).parent_path().string());
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const std::int64_t size = static_cast<std::int64_t>(bytes.size());
    CUDL_CHECK(size > 0 && size % kRecord == 0, path, ": a CIFAR-10 batch is a whole number of ", kRecord,
               "-byte records, got ", size, " bytes");
    for (std::int64_t r = 0; r < size / kRecord; ++r) {
      labels.push_back(bytes[r * kRecord]);
      pixels.insert(pixels.end(), bytes.begin() + r * kRecord + 1, bytes.begin() + (r + 1) * kRecord);
    }
  }
  CUDL_CHECK(!labels.empty(), "load_cifar10_batches: no batch files given");
  const std::int64_t n = static_cast<std::int64_t>(labels.size());
  Dataset d;
  d.images = bytes_to_unit_floats(pixels.data(), {n, 3, 32, 32});  // records are already channel-major
  d.labels = labels_from_bytes(labels.data(), n, 10, paths.front());
  d.class_names = cifar10_classes();
  return d;
}

DatasetSplits load_cifar10(const std::string& dir) {
  const fs::path root = fs::exists(fs::path(dir) / "cifar-10-batches-bin") ? fs::path(dir) / "cifar-10-batches-bin"
                                                                          : fs::path(dir);
  std::vector<std::string> train_paths;
  for (int i = 1; i <= 5; ++i) train_paths.push_back((root / ("data_batch_" + std::to_string(i) + ".bin")).string());
  for (const std::string& path : train_paths)
    if (!fs::exists(path))
      throw_missing("CIFAR-10 binary batch " + fs::path(path).filename().string(), root.string());
  DatasetSplits splits;
  splits.train = load_cifar10_batches(train_paths);
  splits.test = load_cifar10_batches({(root / "test_batch.bin").string()});
  return splits;
}

// ---- splits ----
void split_validation_last(DatasetSplits& splits, std::int64_t val_count) {
  const std::int64_t n = splits.train.size();
  CUDL_CHECK(n >= 2, "split_validation_last: the training set has ", n, " samples; a validation split needs at least 2");
  CUDL_CHECK(0 < val_count && val_count < n, "split_validation_last: expected 0 < val_count < ", n,
             " training samples, got ", val_count);
  splits.val = splits.train.slice(n - val_count, n);
  splits.train = splits.train.slice(0, n - val_count);
}

void split_validation_random(DatasetSplits& splits, std::int64_t val_count, std::uint64_t seed) {
  const std::int64_t n = splits.train.size();
  CUDL_CHECK(n >= 2, "split_validation_random: the training set has ", n, " samples; a validation split needs at least 2");
  CUDL_CHECK(0 < val_count && val_count < n, "split_validation_random: expected 0 < val_count < ", n,
             " training samples, got ", val_count);
  std::vector<std::int64_t> order = philox_permutation(n, seed, 0);
  std::vector<bool> is_val(static_cast<std::size_t>(n), false);
  for (std::int64_t i = 0; i < val_count; ++i) is_val[order[i]] = true;
  std::vector<std::int64_t> train_idx, val_idx;
  for (std::int64_t i = 0; i < n; ++i) (is_val[i] ? val_idx : train_idx).push_back(i);
  splits.val = splits.train.gather(val_idx);
  splits.train = splits.train.gather(train_idx);
}

// ---- normalisation ----
Normalization compute_normalization(const Dataset& dataset) {
  check_dataset("compute_normalization", dataset);
  const std::int64_t n = dataset.size(), c = dataset.channels(), plane = dataset.height() * dataset.width();
  CUDL_CHECK(n > 0, "compute_normalization: the dataset is empty");
  const float* x = dataset.images.data<float>();
  Normalization norm;
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double sum = 0.0, sum_sq = 0.0;
#pragma omp parallel for reduction(+ : sum, sum_sq) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const float* p = x + (i * c + ch) * plane;
      for (std::int64_t k = 0; k < plane; ++k) {
        sum += p[k];
        sum_sq += static_cast<double>(p[k]) * p[k];
      }
    }
    const double count = static_cast<double>(n * plane), mean = sum / count;
    norm.mean.push_back(static_cast<float>(mean));
    norm.stddev.push_back(static_cast<float>(std::sqrt(std::max(sum_sq / count - mean * mean, 0.0))));
  }
  return norm;
}

void normalize(Dataset& dataset, const Normalization& norm) {
  check_dataset("normalize", dataset);
  const std::int64_t n = dataset.size(), c = dataset.channels(), plane = dataset.height() * dataset.width();
  CUDL_CHECK(static_cast<std::int64_t>(norm.mean.size()) == c && static_cast<std::int64_t>(norm.stddev.size()) == c,
             "normalize: expected ", c, " channel means and deviations, got ", norm.mean.size(), " and ",
             norm.stddev.size());
  for (float s : norm.stddev) CUDL_CHECK(s > 0.0f, "normalize: expected positive standard deviations, got ", s);
  float* x = dataset.images.data<float>();
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n * c; ++i) {
    const float mean = norm.mean[i % c], inv_std = 1.0f / norm.stddev[i % c];
    float* p = x + i * plane;
    for (std::int64_t k = 0; k < plane; ++k) p[k] = (p[k] - mean) * inv_std;
  }
}

Normalization normalize_splits(DatasetSplits& splits) {
  Normalization norm = compute_normalization(splits.train);
  for (Dataset* d : {&splits.train, &splits.val, &splits.test})
    if (d->size() > 0) normalize(*d, norm);
  return norm;
}

}  // namespace cudl
