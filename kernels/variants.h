// One table per op: the only list of the op's variants (name, device, kind and
// kernels). Dispatch selects from it, and `OpDef::implementations` is made
// from it, so the golden runner, the agreement tests, the gradient checks and
// the benchmarks see exactly the variants that dispatch can run.
//
// A table lists each device's variants fastest first, by the benchmarks
// (benchmarks/RESULTS.md): `Impl::Auto` takes the first entry for the device.
// `Kernels` is whatever the op calls: one function pointer, or a struct of the
// forward and backward pieces of one variant.
//
//   const VariantTable<SoftmaxKernels>& softmax_variants() {
//     static const VariantTable<SoftmaxKernels> table{{
//         {"cpu_fast", DeviceType::CPU, VariantKind::Fast, {cpu::softmax_forward_omp, ...}},
//         {"cpu_naive", DeviceType::CPU, VariantKind::Naive, {cpu::softmax_forward_naive, ...}},
//     }};
//     return table;
//   }
//   softmax_variants().select("softmax", x.device(), impl).forward(x, out);
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "kernels/backend.h"

namespace cudl {

// What a variant is, for the generic requests Impl::Naive/Fast/Vendor.
enum class VariantKind : std::uint8_t { Naive, Fast, Vendor };

// One row of a table, as reports and `--impl` name it.
struct Implementation {
  DeviceType device;
  Impl impl;  // the request that selects this variant (see VariantTable::implementations)
  VariantKind kind;
  std::string name;
};

template <class Kernels>
struct Variant {
  const char* name;  // unique within the op: "cpu_naive", "cuda_fast", "cudnn"
  DeviceType device;
  VariantKind kind;
  Kernels kernels;
};

template <class Kernels>
class VariantTable {
 public:
  explicit VariantTable(std::vector<Variant<Kernels>> variants) : variants_(std::move(variants)) {}

  // The variant `impl` asks for on `device`; throws "<op>: no <impl>
  // implementation on <device>" when the table (or this build) has none.
  const Kernels& select(const char* op, Device device, const Impl& impl) const {
    for (const Variant<Kernels>& v : variants_)
      if (v.device == device.type && matches(v, impl)) return v.kernels;
    throw_no_impl(op, device, impl);
  }

  // The rows, each with the request that selects exactly it: the generic
  // Naive/Fast/Vendor where it is its device's only variant of that kind (so an
  // op that calls other ops inside it can pass the request on), else its name.
  std::vector<Implementation> implementations() const {
    std::vector<Implementation> out;
    for (const Variant<Kernels>& v : variants_) {
      int same_kind = 0;
      for (const Variant<Kernels>& w : variants_) same_kind += w.device == v.device && w.kind == v.kind;
      const Impl generic = v.kind == VariantKind::Naive ? Impl::Naive
                           : v.kind == VariantKind::Fast ? Impl::Fast
                                                         : Impl::Vendor;
      out.push_back({v.device, same_kind == 1 ? generic : Impl(v.name), v.kind, v.name});
    }
    return out;
  }

 private:
  static bool matches(const Variant<Kernels>& v, const Impl& impl) {
    if (impl == Impl::Auto) return true;
    if (impl == Impl::Naive) return v.kind == VariantKind::Naive;
    if (impl == Impl::Fast) return v.kind == VariantKind::Fast;
    if (impl == Impl::Vendor) return v.kind == VariantKind::Vendor;
    return impl.name() == v.name;
  }

  std::vector<Variant<Kernels>> variants_;
};

}  // namespace cudl
