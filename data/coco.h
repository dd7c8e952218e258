// CS231n's COCO captioning files, read with HDF5's C API:
//   coco2014_captions.h5       train_captions, val_captions: integer [N, 17] token ids
//                              train_image_idxs, val_image_idxs: integer [N], rows of the features
//   train2014_vgg16_fc7.h5     features: float [M, 4096] (and the _pca.h5 files: [M, 512])
//   val2014_vgg16_fc7.h5
//   coco2014_vocab.json        idx_to_word / word_to_idx (data/caption.h)
// Any integer or float storage type is converted on reading. A missing file or
// dataset, a wrong type class or rank, and image indices or tokens out of range
// throw cudl::Error naming the file and the dataset.
#pragma once

#include <cstddef>
#include <string>

#include "core/tensor.h"
#include "data/caption.h"

namespace cudl {

// One open HDF5 file, read-only.
class Hdf5File {
 public:
  static Hdf5File open(const std::string& path);
  // The file held in memory (`source` names it in errors): what fuzzers and tests feed.
  static Hdf5File from_bytes(const void* data, std::size_t size, const std::string& source);
  ~Hdf5File();
  Hdf5File(Hdf5File&& other) noexcept;
  Hdf5File& operator=(Hdf5File&&) = delete;
  Hdf5File(const Hdf5File&) = delete;

  const std::string& source() const { return source_; }
  bool has(const std::string& dataset) const;
  // The dataset `name` of `rank` dimensions, converted to int64 / float32.
  Tensor read_integers(const std::string& name, int rank) const;
  Tensor read_floats(const std::string& name, int rank) const;

 private:
  Hdf5File(std::int64_t id, std::string source) : id_(id), source_(std::move(source)) {}
  Tensor read(const std::string& name, int rank, DType dtype) const;
  std::int64_t id_ = -1;  // hid_t
  std::string source_;
};

struct CocoOptions {
  bool pca_features = true;  // the 512-d PCA features rather than fc7's 4096-d
};

struct CocoData {
  CaptionDataset train, val;  // images hold the feature vectors [M, D]
};

// The files above under `dir`.
CocoData load_coco(const std::string& dir, const CocoOptions& options = {});

// One split from open files: captions `<split>_captions` and `<split>_image_idxs`
// of `captions`, `features` of `features`.
CaptionDataset coco_split(const Hdf5File& captions, const std::string& split, const Hdf5File& features,
                          const Vocabulary& vocab);

}  // namespace cudl
