// Argument checks shared by every op. Each names the op and the argument, and
// says what was expected and what came:
//   linear: expected w to be float32, got int64 [3,4] on cpu
#pragma once

#include <initializer_list>
#include <string>

#include "core/tensor.h"

namespace cudl {

inline void check_defined(const char* op, const char* name, const Tensor& t) {
  CUDL_CHECK(t.defined(), op, ": ", name, " is undefined");
}

inline void check_dtype(const char* op, const char* name, const Tensor& t, DType dtype) {
  check_defined(op, name, t);
  CUDL_CHECK(t.dtype() == dtype, op, ": expected ", name, " to be ", dtype_name(dtype), ", got ", t.str());
}

inline void check_float(const char* op, const char* name, const Tensor& t) { check_dtype(op, name, t, DType::F32); }

inline void check_ndim(const char* op, const char* name, const Tensor& t, std::int64_t ndim) {
  check_defined(op, name, t);
  CUDL_CHECK(t.dim() == ndim, op, ": expected ", name, " to have ", ndim, " dimensions, got ", t.str());
}

inline void check_shape(const char* op, const char* name, const Tensor& t, const Shape& shape) {
  check_defined(op, name, t);
  CUDL_CHECK(t.shape() == shape, op, ": expected ", name, " of shape ", shape_str(shape), ", got ", t.str());
}

// All tensors on the same device as the first.
inline void check_same_device(const char* op, std::initializer_list<std::pair<const char*, const Tensor*>> tensors) {
  const auto& first = *tensors.begin();
  for (const auto& [name, t] : tensors) {
    check_defined(op, name, *t);
    CUDL_CHECK(t->device() == first.second->device(), op, ": expected all tensors on one device; ", first.first,
               " is on ", first.second->device().str(), " but ", name, " is on ", t->device().str());
  }
}

}  // namespace cudl
