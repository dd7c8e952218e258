// Tensor: a shape, a dtype and a view onto device or host storage.
//
// Tensors are move-only. Copies are explicit (`clone()`, `to(device)`,
// `copy_from`) so that no host<->device traffic happens behind your back.
// Views (`view`, `reshape`, `slice`) share storage and never copy. Every tensor
// is contiguous in row-major order; strides are implied by the shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/error.h"

namespace cudl {

enum class DType : std::uint8_t { F32, I64, U8 };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", "int64", "uint8"

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<std::uint8_t>() { return DType::U8; }

using Shape = std::vector<std::int64_t>;
std::string shape_str(const Shape& shape);  // "[2,3,4]"
std::int64_t shape_numel(const Shape& shape);

// Bytes on one device, handed back to that device's allocator when the last
// tensor viewing them goes away.
class Storage {
 public:
  Storage(std::size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  Device device_;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  // Uninitialised memory.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu());
  // Copies host values into a new tensor on `device`.
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, Device device = Device::cpu());
  static Tensor from_vector(const std::vector<std::int64_t>& values, const Shape& shape,
                            Device device = Device::cpu());

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  // size(-1) is the last dimension, as in PyTorch.
  std::int64_t size(std::int64_t d) const;
  std::int64_t numel() const { return shape_numel(shape_); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool is_cuda() const { return device_.is_cuda(); }
  std::vector<std::int64_t> strides() const;  // in elements
  std::string str() const;                    // "float32 [2,3] on cpu"

  // Typed pointer to the first element; throws if T does not match dtype().
  template <typename T> T* data();
  template <typename T> const T* data() const;
  void* raw_data() const;
  // True when no other tensor views this one's storage, so writing in place
  // cannot change a value someone else holds (how autograd sums gradients).
  bool is_sole_owner() const { return storage_.use_count() == 1; }

  // ---- copies (always explicit) ----
  Tensor clone() const;            // same device
  Tensor to(Device device) const;  // a copy on `device`, even if already there
  void copy_from(const Tensor& src);  // same shape and dtype, any devices
  std::vector<float> to_vector() const;  // float32 values copied to the host
  std::vector<std::int64_t> to_vector_i64() const;
  float item() const;  // the single value of a one-element float32 tensor

  // ---- views (no copies) ----
  Tensor view() const;                      // an alias of the whole tensor
  Tensor reshape(const Shape& shape) const;  // one dim may be -1
  Tensor slice(std::int64_t begin, std::int64_t end) const;  // rows [begin,end) of dim 0

  // ---- in place ----
  void fill(float value);
  void zero();

 private:
  std::shared_ptr<Storage> storage_;
  std::size_t offset_ = 0;  // bytes into storage_
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_;
};

template <typename T> T* Tensor::data() {
  CUDL_CHECK(defined(), "Tensor::data: tensor is undefined");
  CUDL_CHECK(dtype_ == dtype_of<T>(), "Tensor::data: tensor is ", dtype_name(dtype_), ", asked for ",
             dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw_data());
}
template <typename T> const T* Tensor::data() const { return const_cast<Tensor*>(this)->data<T>(); }

// Named tensors: op inputs and results, checkpoints, safetensors files.
using TensorMap = std::map<std::string, Tensor>;

}  // namespace cudl
