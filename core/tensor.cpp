#include "core/tensor.h"

#include <cstring>
#include <limits>

#include "core/allocator.h"
#include "core/memory.h"

namespace cudl {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "float32";
    case DType::I64: return "int64";
    case DType::U8: return "uint8";
  }
  return "?";
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1, nonzero = 1;  // `nonzero` keeps a 0 from hiding an overflow of the others
  for (auto d : shape) {
    CUDL_CHECK(d >= 0, "shape_numel: negative dimension in shape ", shape_str(shape));
    if (d == 0) {
      n = 0;
      continue;
    }
    CUDL_CHECK(!__builtin_mul_overflow(nonzero, d, &nonzero), "shape_numel: shape ", shape_str(shape),
               " has 2^63 or more elements");
  }
  return n == 0 ? 0 : nonzero;
}

Storage::Storage(std::size_t bytes, Device device) : bytes_(bytes), device_(device) {
  data_ = allocate_bytes(bytes, device);
}

Storage::~Storage() {
  try {
    free_bytes(data_, bytes_, device_);
  } catch (...) {  // a destructor must not throw; the block is leaked instead
  }
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (auto d : shape) CUDL_CHECK(d >= 0, "Tensor::empty: negative dimension in shape ", shape_str(shape));
  CUDL_CHECK(shape_numel(shape) <= std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(dtype_size(dtype)),
             "Tensor::empty: ", dtype_name(dtype), " ", shape_str(shape), " takes 2^63 bytes or more");
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::make_shared<Storage>(t.nbytes(), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, DType::F32, device);
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
  CUDL_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector: ", values.size(),
             " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, DType::F32, device);
  copy_bytes(t.raw_data(), device, values.data(), Device::cpu(), t.nbytes());
  return t;
}

Tensor Tensor::from_vector(const std::vector<std::int64_t>& values, const Shape& shape, Device device) {
  CUDL_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector: ", values.size(),
             " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, DType::I64, device);
  copy_bytes(t.raw_data(), device, values.data(), Device::cpu(), t.nbytes());
  return t;
}

std::int64_t Tensor::size(std::int64_t d) const {
  const std::int64_t n = dim();
  CUDL_CHECK(d >= -n && d < n, "Tensor::size: dimension ", d, " out of range for shape ", shape_str(shape_));
  return shape_[d < 0 ? d + n : d];
}

std::vector<std::int64_t> Tensor::strides() const {
  std::vector<std::int64_t> s(shape_.size(), 1);
  for (std::int64_t i = dim() - 2; i >= 0; --i) s[i] = s[i + 1] * shape_[i + 1];
  return s;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype_)) + " " + shape_str(shape_) + " on " + device_.str();
}

void* Tensor::raw_data() const {
  CUDL_CHECK(defined(), "Tensor::raw_data: tensor is undefined");
  return static_cast<char*>(storage_->data()) + offset_;
}

Tensor Tensor::clone() const { return to(device_); }

Tensor Tensor::to(Device device) const {
  CUDL_CHECK(defined(), "Tensor::to: tensor is undefined");
  Tensor t = empty(shape_, dtype_, device);
  copy_bytes(t.raw_data(), device, raw_data(), device_, nbytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  CUDL_CHECK(defined() && src.defined(), "Tensor::copy_from: undefined tensor");
  CUDL_CHECK(shape_ == src.shape_ && dtype_ == src.dtype_, "Tensor::copy_from: expected ", str(), ", got ",
             src.str());
  copy_bytes(raw_data(), device_, src.raw_data(), src.device_, nbytes());
}

std::vector<float> Tensor::to_vector() const {
  CUDL_CHECK(defined() && dtype_ == DType::F32, "Tensor::to_vector: expected a float32 tensor, got ", str());
  std::vector<float> v(static_cast<std::size_t>(numel()));
  copy_bytes(v.data(), Device::cpu(), raw_data(), device_, nbytes());
  return v;
}

std::vector<std::int64_t> Tensor::to_vector_i64() const {
  CUDL_CHECK(defined() && dtype_ == DType::I64, "Tensor::to_vector_i64: expected an int64 tensor, got ", str());
  std::vector<std::int64_t> v(static_cast<std::size_t>(numel()));
  copy_bytes(v.data(), Device::cpu(), raw_data(), device_, nbytes());
  return v;
}

float Tensor::item() const {
  CUDL_CHECK(defined() && dtype_ == DType::F32 && numel() == 1,
             "Tensor::item: expected a float32 tensor of one element, got ", str());
  float value = 0;
  copy_bytes(&value, Device::cpu(), raw_data(), device_, sizeof value);
  return value;
}

Tensor Tensor::view() const {
  CUDL_CHECK(defined(), "Tensor::view: tensor is undefined");
  Tensor t;
  t.storage_ = storage_;
  t.offset_ = offset_;
  t.shape_ = shape_;
  t.dtype_ = dtype_;
  t.device_ = device_;
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape resolved = shape;
  std::int64_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1) {
      CUDL_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      CUDL_CHECK(resolved[i] >= 0, "reshape: negative dimension in ", shape_str(shape));
      known *= resolved[i];
    }
  }
  if (infer >= 0) {
    CUDL_CHECK(known > 0 && numel() % known == 0, "reshape: cannot reshape ", shape_str(shape_), " into ",
               shape_str(shape));
    resolved[infer] = numel() / known;
  }
  CUDL_CHECK(shape_numel(resolved) == numel(), "reshape: cannot reshape ", shape_str(shape_), " (", numel(),
             " elements) into ", shape_str(shape));
  Tensor t = view();
  t.shape_ = resolved;
  return t;
}

Tensor Tensor::slice(std::int64_t begin, std::int64_t end) const {
  CUDL_CHECK(dim() >= 1, "slice: cannot slice a 0-d tensor");
  CUDL_CHECK(0 <= begin && begin <= end && end <= shape_[0], "slice: rows [", begin, ",", end,
             ") out of range for shape ", shape_str(shape_));
  Tensor t = view();
  const std::int64_t row = numel() / (shape_[0] == 0 ? 1 : shape_[0]);
  t.offset_ += static_cast<std::size_t>(begin * row) * dtype_size(dtype_);
  t.shape_[0] = end - begin;
  return t;
}

void Tensor::fill(float value) {
  CUDL_CHECK(dtype_ == DType::F32, "Tensor::fill: expected a float32 tensor, got ", str());
  fill_f32(static_cast<float*>(raw_data()), device_, static_cast<std::size_t>(numel()), value);
}

void Tensor::zero() { zero_bytes(raw_data(), device_, nbytes()); }

}  // namespace cudl
