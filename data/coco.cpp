#include "data/coco.h"

#include <hdf5.h>

#include <filesystem>

#include "core/check.h"
#include "core/formats/io_util.h"

namespace cudl {

namespace fs = std::filesystem;

namespace {

// HDF5 prints every failure to stderr unless told not to; cudl reports them as cudl::Error.
void silence_hdf5() {
  static const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

void require_coco_file(const std::string& path) {
  CUDL_CHECK(fs::exists(path), path, " not found (CS231n's COCO files: run its get_coco_dataset.sh and pass the folder)");
}

// Closes an HDF5 handle when the scope ends.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

}  // namespace

Hdf5File Hdf5File::open(const std::string& path) {
  silence_hdf5();
  require_coco_file(path);
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) formats::file_error(path, "not an HDF5 file HDF5 can open");
  return Hdf5File(id, path);
}

Hdf5File Hdf5File::from_bytes(const void* data, std::size_t size, const std::string& source) {
  silence_hdf5();
  const Handle fapl{H5Pcreate(H5P_FILE_ACCESS), H5Pclose};
  // The core driver serves the file from memory; backing_store 0 writes nothing back.
  if (fapl.id < 0 || H5Pset_fapl_core(fapl.id, 1 << 16, 0) < 0 || H5Pset_file_image(fapl.id, const_cast<void*>(data), size) < 0)
    formats::file_error(source, "HDF5 could not take the file image");
  const hid_t id = H5Fopen(source.c_str(), H5F_ACC_RDONLY, fapl.id);
  if (id < 0) formats::file_error(source, "not an HDF5 file HDF5 can open");
  return Hdf5File(id, source);
}

Hdf5File::~Hdf5File() {
  if (id_ >= 0) H5Fclose(id_);
}

Hdf5File::Hdf5File(Hdf5File&& other) noexcept : id_(other.id_), source_(std::move(other.source_)) { other.id_ = -1; }

bool Hdf5File::has(const std::string& dataset) const {
  return H5Lexists(id_, dataset.c_str(), H5P_DEFAULT) > 0 && H5Oexists_by_name(id_, dataset.c_str(), H5P_DEFAULT) > 0;
}

Tensor Hdf5File::read_integers(const std::string& name, int rank) const { return read(name, rank, DType::I64); }
Tensor Hdf5File::read_floats(const std::string& name, int rank) const { return read(name, rank, DType::F32); }

Tensor Hdf5File::read(const std::string& name, int rank, DType dtype) const {
  if (!has(name)) formats::file_error(source_, "no dataset '", name, "'");
  const Handle dataset{H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose};
  if (dataset.id < 0) formats::file_error(source_, "'", name, "' is not a dataset");
  const Handle type{H5Dget_type(dataset.id), H5Tclose};
  const H5T_class_t type_class = H5Tget_class(type.id);
  const bool integer = dtype == DType::I64;
  if (type_class != (integer ? H5T_INTEGER : H5T_FLOAT))
    formats::file_error(source_, "dataset '", name, "' should hold ", integer ? "integers" : "floating-point numbers",
                        ", it holds HDF5 type class ", static_cast<int>(type_class));
  const Handle space{H5Dget_space(dataset.id), H5Sclose};
  const int found_rank = H5Sget_simple_extent_ndims(space.id);
  if (found_rank != rank) formats::file_error(source_, "dataset '", name, "' should have ", rank, " dimensions, it has ", found_rank);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  Shape shape;
  std::vector<std::uint64_t> udims;
  for (hsize_t d : dims) shape.push_back(static_cast<std::int64_t>(d)), udims.push_back(d);
  const std::uint64_t bytes = formats::shape_bytes(udims, dtype_size(dtype));
  if (bytes > (1ull << 36)) formats::file_error(source_, "dataset '", name, "' would take ", formats::bytes_str(bytes));
  Tensor out = Tensor::empty(shape, dtype);
  if (out.numel() > 0 &&
      H5Dread(dataset.id, integer ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.raw_data()) < 0)
    formats::file_error(source_, "HDF5 failed to read dataset '", name, "'");
  return out;
}

CaptionDataset coco_split(const Hdf5File& captions, const std::string& split, const Hdf5File& features,
                          const Vocabulary& vocab) {
  CaptionDataset d;
  d.captions = captions.read_integers(split + "_captions", 2);
  d.image_index = captions.read_integers(split + "_image_idxs", 1);
  d.images = features.read_floats("features", 2);
  d.vocab = vocab;
  const std::int64_t n = d.captions.size(0), m = d.images.size(0);
  if (d.image_index.numel() != n)
    formats::file_error(captions.source(), split, "_image_idxs holds ", d.image_index.numel(), " entries for the ", n,
                        " captions of ", split, "_captions");
  const std::int64_t* idx = d.image_index.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i)
    if (idx[i] < 0 || idx[i] >= m)
      formats::file_error(captions.source(), split, "_image_idxs[", i, "] = ", idx[i], " is outside the ", m,
                          " feature rows of ", features.source());
  const std::int64_t* tokens = d.captions.data<std::int64_t>();
  for (std::int64_t i = 0; i < d.captions.numel(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab.size())
      formats::file_error(captions.source(), split, "_captions holds token ", tokens[i], " (caption ",
                          i / d.captions.size(1), "), outside the vocabulary of ", vocab.size(), " words");
  d.validate(captions.source() + " " + split);
  return d;
}

CocoData load_coco(const std::string& dir, const CocoOptions& options) {
  const fs::path base(dir);
  const std::string vocab_path = (base / "coco2014_vocab.json").string();
  require_coco_file(vocab_path);
  const Vocabulary vocab = read_vocabulary_json(vocab_path);
  const Hdf5File captions = Hdf5File::open((base / "coco2014_captions.h5").string());
  const std::string suffix = options.pca_features ? "_vgg16_fc7_pca.h5" : "_vgg16_fc7.h5";
  CocoData data;
  data.train = coco_split(captions, "train", Hdf5File::open((base / ("train2014" + suffix)).string()), vocab);
  data.val = coco_split(captions, "val", Hdf5File::open((base / ("val2014" + suffix)).string()), vocab);
  return data;
}

}  // namespace cudl
