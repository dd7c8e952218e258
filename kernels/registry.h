// The op registry: one entry per op, listing its implementations, a uniform way
// to run it on named tensors, and the op's test and benchmark cases.
//
// It is the one list that drives the golden runner (`cudl golden`), the
// CPU-vs-CUDA and naive-vs-fast agreement tests and the benchmarks, so an op added
// here is checked and timed everywhere. Names of inputs and outputs follow
// tests/golden/README.md and docs/ops.md: inputs as in the PyTorch call, "out", "dout",
// "d<input>", "out_<state>".
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "kernels/variants.h"

namespace cudl {

// Op attributes, stored as decimal strings as in golden files' metadata.
class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<const std::string, std::string>> values) : values_(values) {}
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  // Throws "<op>: missing attribute 'stride'" / "...: attribute 'stride' is not an integer: 'x'".
  std::int64_t get_int(const char* op, const std::string& key) const;
  std::int64_t get_int(const char* op, const std::string& key, std::int64_t fallback) const;
  double get_float(const char* op, const std::string& key) const;
  double get_float(const char* op, const std::string& key, double fallback) const;
  // A name-valued attribute ("schedule" = "cosine"), as stored.
  const std::string& get_string(const char* op, const std::string& key) const;
  const std::map<std::string, std::string>& values() const { return values_; }
  std::string str() const;  // "stride=2 pad=1"

 private:
  std::map<std::string, std::string> values_;
};

// How a test or benchmark input is filled.
struct InputSpec {
  enum class Kind { Normal, Uniform, Positive, Labels, Mask };
  std::string name;
  Shape shape;
  Kind kind = Kind::Normal;
  std::int64_t classes = 0;  // Labels: values in [0, classes)
};

// A shape/attribute combination of an op used by the agreement tests and the
// benchmarks. `large` cases fill a GPU: tests run them on CUDA only, and skip
// the naive CPU implementation in benchmarks.
struct OpCase {
  std::string label;
  std::vector<InputSpec> inputs;
  Attrs attrs;
  bool large = false;
};

struct OpDef {
  std::string name;
  // From the op's variant table (kernels/variants.h), in its order.
  std::vector<Implementation> implementations;
  // Losses produce a scalar and are differentiated without an upstream "dout".
  bool is_loss = false;
  // False for ops without a backward call (optimizer updates).
  bool has_backward = true;
  // Runs one implementation on `inputs` (host tensors). Returns host tensors:
  // "out" (and "out_<state>"), and with `backward` the "d<input>" of every
  // differentiable input. The upstream gradient is inputs["dout"] when given,
  // else a fixed random tensor of out's shape (see upstream_gradient).
  std::function<TensorMap(const TensorMap& inputs, const Attrs& attrs, Device device, Impl impl, bool backward)> run;
  // Benchmarks: sets one implementation up for timing and returns the call to time.
  // `workspace` holds the case's inputs, already on the implementation's device, and
  // outlives the returned call, which may refer to its entries; what the timed
  // direction needs beyond them (upstream gradient, saved forward pass) is made here,
  // untimed. The call runs only the timed direction, queued on the device without
  // synchronising. Backward is asked for only when the op has a separate one
  // (has_backward, and not a loss, whose forward call computes its gradient).
  std::function<std::function<void()>(TensorMap& workspace, const Attrs& attrs, Impl impl, bool backward)>
      make_timed;
  // Minimal work (FLOPs, bytes moved) of the forward call and of the backward call,
  // for GFLOP/s and GB/s in benchmarks; the backward ones may be left unset.
  std::function<double(const TensorMap& inputs, const Attrs& attrs)> flops;
  std::function<double(const TensorMap& inputs, const Attrs& attrs)> bytes;
  std::function<double(const TensorMap& inputs, const Attrs& attrs)> backward_flops;
  std::function<double(const TensorMap& inputs, const Attrs& attrs)> backward_bytes;
  std::vector<OpCase> cases;
};

const std::vector<OpDef>& op_registry();
const OpDef* find_op(const std::string& name);  // nullptr when unknown

// Inputs for a case, filled from the Philox stream of `seed`.
TensorMap make_inputs(const OpCase& c, std::uint64_t seed);

// ---- helpers for OpDef::run ----
// The named input moved to `device` (throws "<op>: missing input 'w'").
Tensor input_on(const char* op, const TensorMap& inputs, const std::string& name, Device device);
// inputs["dout"] on `device`, or a fixed N(0,1) tensor (seed 1234) shaped like `out`.
Tensor upstream_gradient(const TensorMap& inputs, const Tensor& out, Device device);
// Adds `t` to `results` under `name`, copied to the host.
void put_result(TensorMap& results, const std::string& name, const Tensor& t);

// ---- helpers for OpDef::make_timed ----
// Stores upstream_gradient(workspace, out) as workspace["dout"] and returns it.
// (Other saved state, e.g. a NormForward, can be captured in a std::shared_ptr.)
const Tensor& timed_upstream_gradient(TensorMap& workspace, const Tensor& out);

}  // namespace cudl
