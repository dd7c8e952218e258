// matmul: argument checks, the batched GEMMs of forward and backward, dispatch,
// and the registry entry.
#include "kernels/matmul.h"

#include <array>
#include <tuple>

#include "core/check.h"
#include "kernels/batched_gemm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/registry.h"
#include "kernels/variants.h"
#if CUDL_WITH_CUDA
#include "kernels/cuda/matmul.h"
#endif

namespace cudl {

namespace {
constexpr const char* kOp = "matmul";

// The problem as stored: op(a) is m x k, op(b) is k x n, `batch` products. When b
// is shared and a is not transposed, a's batch is folded into its rows (one GEMM
// of batch*M rows): `m` is then batch*M and `batch` 1.
struct MatmulGeometry {
  bool trans_a, trans_b;
  std::int64_t m, n, k, batch;
  bool a_shared, b_shared;  // 2-D operand used by every product
  Shape out_shape;
};

Shape leading(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

MatmulGeometry matmul_geometry(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_float(kOp, "a", a);
  check_float(kOp, "b", b);
  check_same_device(kOp, {{"a", &a}, {"b", &b}});
  CUDL_CHECK(a.dim() >= 2 && b.dim() >= 2, kOp, ": expected a and b with at least 2 dims, got a ", a.str(),
             " and b ", b.str());
  const std::int64_t m = trans_a ? a.size(-1) : a.size(-2), k = trans_a ? a.size(-2) : a.size(-1);
  const std::int64_t kb = trans_b ? b.size(-1) : b.size(-2), n = trans_b ? b.size(-2) : b.size(-1);
  CUDL_CHECK(k == kb, kOp, ": inner dims differ: op(a) is ", m, " x ", k, ", op(b) is ", kb, " x ", n, " (a ",
             shape_str(a.shape()), ", b ", shape_str(b.shape()), ", trans_a ", trans_a, ", trans_b ", trans_b, ")");
  // cuBLAS rejects leading dimensions of 0; an empty product has nothing to compute.
  CUDL_CHECK(m > 0 && n > 0 && k > 0, kOp, ": expected non-empty matrices, got a ", shape_str(a.shape()), " and b ",
             shape_str(b.shape()));
  const bool a_shared = a.dim() == 2 && b.dim() > 2, b_shared = b.dim() == 2 && a.dim() > 2;
  CUDL_CHECK(a_shared || b_shared || leading(a) == leading(b), kOp,
             ": expected equal batch dims or a 2-D operand, got a ", shape_str(a.shape()), " and b ",
             shape_str(b.shape()));
  Shape out_shape = leading(a_shared ? b : a);
  const std::int64_t batch = shape_numel(out_shape);
  out_shape.push_back(m);
  out_shape.push_back(n);
  MatmulGeometry g{trans_a, trans_b, m, n, k, batch, a_shared, b_shared, std::move(out_shape)};
  if (b_shared && !trans_a) {
    g.m *= batch;
    g.batch = 1;
  }
  return g;
}

// One stored matrix of the problem: its pointer, row length, and batch stride.
struct Operand {
  const float* data;
  std::int64_t ld, stride;
};

BatchedGemm product(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, Operand a, Operand b,
                    float* c, std::int64_t ldc, std::int64_t stride_c, std::int64_t batch) {
  return {ta, tb, m, n, k, a.data, a.ld, a.stride, b.data, b.ld, b.stride, c, ldc, stride_c, batch};
}

using BatchedGemmKernel = void (*)(const BatchedGemm& g, int device);

// On CUDA, cuBLAS is the fastest and so Auto; cuda_fast is our own tiled kernel.
const VariantTable<BatchedGemmKernel>& batched_gemm_variants() {
  static const VariantTable<BatchedGemmKernel> table{{
      {"cpu_fast", DeviceType::CPU, VariantKind::Fast, [](const BatchedGemm& g, int) { cpu::batched_gemm_blas(g); }},
      {"cpu_naive", DeviceType::CPU, VariantKind::Naive, [](const BatchedGemm& g, int) { cpu::batched_gemm_naive(g); }},
#if CUDL_WITH_CUDA
      {"cublas", DeviceType::CUDA, VariantKind::Vendor, cuda::batched_gemm_cublas},
      {"cuda_fast", DeviceType::CUDA, VariantKind::Fast, cuda::batched_gemm_tiled},
      {"cuda_naive", DeviceType::CUDA, VariantKind::Naive, cuda::batched_gemm_naive},
#endif
  }};
  return table;
}

void run_gemm(const BatchedGemm& g, Device device, Impl impl) {
  batched_gemm_variants().select(kOp, device, impl)(g, device.index);
}

// Rows of a stored matrix of a, b, dout (a transposed operand is stored k x m).
Operand operand_a(const Tensor& a, const MatmulGeometry& g) {
  return {a.data<float>(), a.size(-1), g.a_shared || g.batch == 1 ? 0 : a.size(-1) * a.size(-2)};
}
Operand operand_b(const Tensor& b, const MatmulGeometry& g) {
  return {b.data<float>(), b.size(-1), g.b_shared || g.batch == 1 ? 0 : b.size(-1) * b.size(-2)};
}
Operand operand_dout(const Tensor& dout, const MatmulGeometry& g) { return {dout.data<float>(), g.n, g.m * g.n}; }
}  // namespace

Tensor matmul_forward(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Impl impl) {
  const MatmulGeometry g = matmul_geometry(a, b, trans_a, trans_b);
  Tensor out = Tensor::empty(g.out_shape, DType::F32, a.device());
  run_gemm(product(trans_a, trans_b, g.m, g.n, g.k, operand_a(a, g), operand_b(b, g), out.data<float>(), g.n,
                   g.m * g.n, g.batch),
           a.device(), impl);
  return out;
}

Tensor matmul_forward(const Tensor& a, const Tensor& b, Impl impl) { return matmul_forward(a, b, false, false, impl); }

MatmulGrads matmul_backward(const Tensor& dout, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                            Impl impl) {
  const MatmulGeometry g = matmul_geometry(a, b, trans_a, trans_b);
  check_float(kOp, "dout", dout);
  check_shape(kOp, "dout", dout, g.out_shape);
  check_same_device(kOp, {{"a", &a}, {"dout", &dout}});
  const Device device = a.device();
  MatmulGrads grads{Tensor::empty(a.shape(), DType::F32, device), Tensor::empty(b.shape(), DType::F32, device)};
  const Operand ga = operand_a(a, g), gb = operand_b(b, g), gd = operand_dout(dout, g);
  // A shared operand's gradient has stride 0: the batch's products sum into it.
  const std::int64_t stride_da = ga.stride, stride_db = gb.stride;
  float *da = grads.da.data<float>(), *db = grads.db.data<float>();
  // d op(a) = dout op(b)^T [m, k]; stored transposed when trans_a: da = op(b) dout^T [k, m].
  if (!trans_a)
    run_gemm(product(false, !trans_b, g.m, g.k, g.n, gd, gb, da, g.k, stride_da, g.batch), device, impl);
  else
    run_gemm(product(trans_b, true, g.k, g.m, g.n, gb, gd, da, g.m, stride_da, g.batch), device, impl);
  // d op(b) = op(a)^T dout [k, n]; stored transposed when trans_b: db = dout^T op(a) [n, k].
  if (!trans_b)
    run_gemm(product(!trans_a, false, g.k, g.n, g.m, ga, gd, db, g.n, stride_db, g.batch), device, impl);
  else
    run_gemm(product(true, trans_a, g.n, g.k, g.m, gd, ga, db, g.k, stride_db, g.batch), device, impl);
  return grads;
}

MatmulGrads matmul_backward(const Tensor& dout, const Tensor& a, const Tensor& b, Impl impl) {
  return matmul_backward(dout, a, b, false, false, impl);
}

OpDef matmul_op_def() {
  OpDef def;
  def.name = kOp;
  def.implementations = batched_gemm_variants().implementations();
  auto flags = [](const Attrs& attrs) {
    return std::pair<bool, bool>{attrs.get_int(kOp, "trans_a", 0) != 0, attrs.get_int(kOp, "trans_b", 0) != 0};
  };
  def.run = [flags](const TensorMap& in, const Attrs& attrs, Device device, Impl impl, bool backward) {
    const auto parsed = flags(attrs);  // not a structured binding: clang 14 cannot capture one
    const auto ta = std::get<0>(parsed), tb = std::get<1>(parsed);
    Tensor a = input_on(kOp, in, "a", device), b = input_on(kOp, in, "b", device);
    TensorMap results;
    Tensor out = matmul_forward(a, b, ta, tb, impl);
    put_result(results, "out", out);
    if (backward) {
      MatmulGrads g = matmul_backward(upstream_gradient(in, out, device), a, b, ta, tb, impl);
      put_result(results, "da", g.da);
      put_result(results, "db", g.db);
    }
    return results;
  };
  def.make_timed = [flags](TensorMap& ws, const Attrs& attrs, Impl impl, bool backward) -> std::function<void()> {
    const auto parsed = flags(attrs);  // not a structured binding: clang 14 cannot capture one
    const auto ta = std::get<0>(parsed), tb = std::get<1>(parsed);
    const Tensor &a = ws.at("a"), &b = ws.at("b");
    if (!backward) return [&a, &b, ta, tb, impl] { matmul_forward(a, b, ta, tb, impl); };
    const Tensor& dout = timed_upstream_gradient(ws, matmul_forward(a, b, ta, tb, impl));
    return [&dout, &a, &b, ta, tb, impl] { matmul_backward(dout, a, b, ta, tb, impl); };
  };
  // 2 M N K per product; reads a, b and writes out (backward: two such GEMMs).
  auto sizes = [flags](const TensorMap& in, const Attrs& attrs) {
    const auto parsed = flags(attrs);  // not a structured binding: clang 14 cannot capture one
    const auto ta = std::get<0>(parsed), tb = std::get<1>(parsed);
    const MatmulGeometry g = matmul_geometry(in.at("a"), in.at("b"), ta, tb);
    return std::array<double, 4>{2.0 * g.batch * g.m * g.n * g.k, double(in.at("a").numel()),
                                 double(in.at("b").numel()), double(shape_numel(g.out_shape))};
  };
  def.flops = [sizes](const TensorMap& in, const Attrs& attrs) { return sizes(in, attrs)[0]; };
  def.bytes = [sizes](const TensorMap& in, const Attrs& attrs) {
    const auto s = sizes(in, attrs);
    return 4.0 * (s[1] + s[2] + s[3]);
  };
  def.backward_flops = [sizes](const TensorMap& in, const Attrs& attrs) { return 2.0 * sizes(in, attrs)[0]; };
  def.backward_bytes = [sizes](const TensorMap& in, const Attrs& attrs) {  // reads dout, a, b; writes da, db
    const auto s = sizes(in, attrs);
    return 4.0 * (2.0 * (s[1] + s[2]) + s[3]);
  };
  using K = InputSpec::Kind;
  def.cases = {
      {"odd_2d", {{"a", {7, 5}, K::Normal}, {"b", {5, 3}, K::Normal}}, {}},
      {"batched_odd", {{"a", {2, 3, 5, 7}, K::Normal}, {"b", {2, 3, 7, 9}, K::Normal}}, {}},
      {"shared_b", {{"a", {3, 5, 6}, K::Normal}, {"b", {6, 4}, K::Normal}}, {}},
      {"shared_a", {{"a", {5, 6}, K::Normal}, {"b", {3, 6, 4}, K::Normal}}, {}},
      {"trans_a", {{"a", {2, 6, 5}, K::Normal}, {"b", {2, 6, 3}, K::Normal}}, {{"trans_a", "1"}}},
      {"trans_b_shared", {{"a", {3, 5, 6}, K::Normal}, {"b", {4, 6}, K::Normal}}, {{"trans_b", "1"}}},
      {"trans_both_shared_a", {{"a", {6, 5}, K::Normal}, {"b", {2, 4, 6}, K::Normal}},
       {{"trans_a", "1"}, {"trans_b", "1"}}},
      // Attention scores q k^T: [N, heads, T, Dh] @ [N, heads, T, Dh]^T.
      {"attention_scores", {{"a", {4, 4, 64, 32}, K::Normal}, {"b", {4, 4, 64, 32}, K::Normal}}, {{"trans_b", "1"}}},
      {"transformer_ffn", {{"a", {8, 64, 256}, K::Normal}, {"b", {256, 1024}, K::Normal}}, {}},
      {"large", {{"a", {64, 512, 512}, K::Normal}, {"b", {64, 512, 512}, K::Normal}}, {}, true},
  };
  return def;
}

}  // namespace cudl
