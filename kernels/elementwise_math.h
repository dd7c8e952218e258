// The elementwise maps behind the plumbing ops (arithmetic, unary functions,
// where/masked_fill and their gradients) as scalar formulas shared by the CPU and
// CUDA kernels. T is float for the fast kernels and double for the CPU reference.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/host_device.h"

namespace cudl {

// x0, x1, x2 are the map's inputs, s and t its scalars. The maps marked "cond"
// take a condition as x0 (float, nonzero is true, or uint8).
enum class ElementMap : std::uint8_t {
  Scale,        // s x0                 broadcast_to, sum/mean backward
  ScaleShift,   // s x0 + t
  Exp,          // exp(x0)
  Log,          // log(x0)
  Sqrt,         // sqrt(x0)
  Square,       // x0 x0
  Add,          // x0 + x1
  Sub,          // x0 - x1
  Mul,          // s x0 x1              s = 1 forward; exp', square' backward
  Div,          // s x0 / x1            s = 1 forward; log', sqrt' backward
  DivisorGrad,  // -x0 x1 / (x2 x2)     dout d(a/b)/db from (dout, a, b)
  Where,        // cond: x0 ? x1 : x2
  FillWhere,    // cond: x0 ? s : x1    masked_fill, and the routes of gradients
  KeepWhere,    // cond: x0 ? x1 : 0
};

constexpr int map_arity(ElementMap m) {
  switch (m) {
    case ElementMap::Scale:
    case ElementMap::ScaleShift:
    case ElementMap::Exp:
    case ElementMap::Log:
    case ElementMap::Sqrt:
    case ElementMap::Square: return 1;
    case ElementMap::DivisorGrad:
    case ElementMap::Where: return 3;
    default: return 2;
  }
}

constexpr bool map_has_condition(ElementMap m) {
  return m == ElementMap::Where || m == ElementMap::FillWhere || m == ElementMap::KeepWhere;
}

template <ElementMap M, typename T> CUDL_HOST_DEVICE T map_value(T s, T t, T x0, T x1, T x2) {
  using E = ElementMap;
  if constexpr (M == E::Scale) return s * x0;
  if constexpr (M == E::ScaleShift) return s * x0 + t;
  if constexpr (M == E::Exp) return std::exp(x0);
  if constexpr (M == E::Log) return std::log(x0);
  if constexpr (M == E::Sqrt) return std::sqrt(x0);
  if constexpr (M == E::Square) return x0 * x0;
  if constexpr (M == E::Add) return x0 + x1;
  if constexpr (M == E::Sub) return x0 - x1;
  if constexpr (M == E::Mul) return s * x0 * x1;
  if constexpr (M == E::Div) return s * x0 / x1;
  if constexpr (M == E::DivisorGrad) return -x0 * x1 / (x2 * x2);
  if constexpr (M == E::Where) return x0 != T(0) ? x1 : x2;
  if constexpr (M == E::FillWhere) return x0 != T(0) ? s : x1;
  if constexpr (M == E::KeepWhere) return x0 != T(0) ? x1 : T(0);
}

// A map's inputs: the first of type C (the uint8 or float condition of the cond
// maps, float otherwise), the rest float.
template <typename C, int K> struct MapInputs {
  const C* first;
  const float* rest[K > 1 ? K - 1 : 1];
  template <int I, typename T, typename Index> CUDL_HOST_DEVICE T load(Index off) const {
    if constexpr (I == 0)
      return static_cast<T>(first[off]);
    else
      return static_cast<T>(rest[I - 1][off]);
  }
};

// The map at element offsets off[0..K) of its inputs.
template <ElementMap M, typename T, typename C, int K, typename Index>
CUDL_HOST_DEVICE T map_at(T s, T t, const MapInputs<C, K>& in, const Index (&off)[K]) {
  const T x0 = in.template load<0, T>(off[0]);
  T x1 = T(0), x2 = T(0);
  if constexpr (K > 1) x1 = in.template load<1, T>(off[1]);
  if constexpr (K > 2) x2 = in.template load<2, T>(off[2]);
  return map_value<M, T>(s, t, x0, x1, x2);
}

// Calls f(std::integral_constant<ElementMap, m>{}): the runtime choice becomes a
// template argument once per call, outside the element loops.
template <typename F> decltype(auto) with_element_map(ElementMap m, F&& f) {
  using E = ElementMap;
  switch (m) {
#define CUDL_MAP_CASE(name) \
  case E::name: return f(std::integral_constant<E, E::name>{});
    CUDL_MAP_CASE(Scale)
    CUDL_MAP_CASE(ScaleShift)
    CUDL_MAP_CASE(Exp)
    CUDL_MAP_CASE(Log)
    CUDL_MAP_CASE(Sqrt)
    CUDL_MAP_CASE(Square)
    CUDL_MAP_CASE(Add)
    CUDL_MAP_CASE(Sub)
    CUDL_MAP_CASE(Mul)
    CUDL_MAP_CASE(Div)
    CUDL_MAP_CASE(DivisorGrad)
    CUDL_MAP_CASE(Where)
    CUDL_MAP_CASE(FillWhere)
    CUDL_MAP_CASE(KeepWhere)
#undef CUDL_MAP_CASE
  }
  return f(std::integral_constant<E, E::Scale>{});  // unreachable: every enumerator has a case
}

}  // namespace cudl

namespace cudl {

// One elementwise call: which map, and its scalars.
struct MapSpec {
  ElementMap map;
  float s = 1.0f, t = 0.0f;
};

}  // namespace cudl
