// Reverse-mode automatic differentiation: values that remember how they were made.
//
// A `Var` is a tensor plus, when it requires grad, the graph node of the op that
// made it. Every differentiable op (autograd/functions.h) runs its forward kernel
// and, when any input requires grad and grad mode is on, records a `Node` whose
// backward closure calls that op's `<op>_backward` kernel on the same device and
// variant. `loss.backward()` walks the recorded graph once in reverse topological
// order, sums the gradients of values that fan out, and leaves the result in the
// `.grad()` of every leaf that requires grad (parameters, or inputs marked so).
//
//   Var x(images), w = ...;                 // leaves
//   Var loss = cross_entropy(linear(x, w, b), labels);
//   loss.backward();                        // w.grad() now holds d loss / d w
//
// As in PyTorch:
//   - a node's saved tensors are released once backward has passed through it,
//     so a second backward through the same graph is an error naming the op;
//   - gradients accumulate into `.grad()` across backward calls until zero_grad;
//   - `NoGradGuard` turns recording off (evaluation, sampling): nothing is saved;
//   - `detach()` gives the same values with no history.
// The graph holds edges to the nodes of its inputs, never their values, so an
// activation lives only as long as a user's Var or a node's saved closure needs it.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

struct Node;
struct VarState;

class Var {
 public:
  Var() = default;  // undefined
  // A leaf holding `value` (moved in, no copy).
  explicit Var(Tensor value, bool requires_grad = false);

  bool defined() const { return state_ != nullptr; }
  const Tensor& value() const;
  Tensor& value();
  // The accumulated gradient of a leaf (undefined until a backward reaches it).
  const Tensor& grad() const;
  Tensor& grad();
  bool requires_grad() const;
  // Leaves only: whether backward computes this value's gradient.
  void set_requires_grad(bool requires_grad);
  bool is_leaf() const;
  // The op that made this value ("conv2d"), or "" for a leaf.
  std::string op() const;

  const Shape& shape() const { return value().shape(); }
  std::int64_t dim() const { return value().dim(); }
  std::int64_t size(std::int64_t d) const { return value().size(d); }
  std::int64_t numel() const { return value().numel(); }
  Device device() const { return value().device(); }
  float item() const { return value().item(); }

  // The same values (a view), no history, no grad.
  Var detach() const;

  // Back-propagates from this value. Without an upstream gradient the value must
  // have one element (a loss); with one, `upstream` has this value's shape and device.
  // `retain_graph` keeps the saved tensors for another backward through the graph.
  void backward(bool retain_graph = false) const;
  void backward(const Tensor& upstream, bool retain_graph = false) const;

  // Leaves: drops the gradient (as torch's zero_grad(set_to_none=True)), so the
  // next backward writes it afresh and values no backward reached keep none.
  void zero_grad();

  // Internal: the node that receives this value's gradient (nullptr: none needed).
  std::shared_ptr<Node> gradient_edge() const;
  // Internal: a non-leaf result of `node`.
  static Var from_node(Tensor value, std::shared_ptr<Node> node);

 private:
  std::shared_ptr<VarState> state_;
};

// A move-only callable: a node's backward owns the tensors its forward saved
// (std::function would demand copyable captures).
class BackwardFn {
 public:
  BackwardFn() = default;
  template <typename F>
    requires(!std::is_same_v<std::decay_t<F>, BackwardFn>)
  BackwardFn(F f) : impl_(std::make_unique<Holder<F>>(std::move(f))) {}  // NOLINT: implicit, like std::function
  explicit operator bool() const { return impl_ != nullptr; }
  std::vector<Tensor> operator()(const Tensor& grad_out, const Node& node) const { return impl_->call(grad_out, node); }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual std::vector<Tensor> call(const Tensor& grad_out, const Node& node) = 0;
  };
  template <typename F> struct Holder final : Base {
    explicit Holder(F f) : f(std::move(f)) {}
    std::vector<Tensor> call(const Tensor& grad_out, const Node& node) override { return f(grad_out, node); }
    F f;
  };
  std::unique_ptr<Base> impl_;
};

// A graph node: one op application with one output.
struct Node {
  std::string op;
  // Per input, the node its gradient goes to (nullptr: that input needs none).
  std::vector<std::shared_ptr<Node>> next;
  // Per input, its shape and device: gradients are checked against them.
  std::vector<Shape> input_shapes;
  std::vector<Device> input_devices;
  // Input gradients (one per input; undefined where needs_grad(i) is false) from
  // the output's gradient. Captures the saved tensors; reset once it has run.
  BackwardFn backward;
  bool released = false;
  // Leaf accumulators only: the leaf whose .grad() receives the gradient.
  bool is_accumulator = false;
  std::weak_ptr<VarState> leaf;

  bool needs_grad(std::size_t input) const { return next[input] != nullptr; }
};

// Records `op`'s output. When grad mode is off or no input requires grad, the
// result is a plain leaf and `backward` is dropped (nothing is saved). The
// closure gets the output's gradient and the node (to ask needs_grad(i)).
Var record(const char* op, Tensor out, const std::vector<const Var*>& inputs, BackwardFn backward);

// The input gradients a backward closure returns, in input order (a braced
// list would copy, and tensors only move).
template <typename... T> std::vector<Tensor> gradients(T&&... grads) {
  std::vector<Tensor> out;
  out.reserve(sizeof...(grads));
  (out.push_back(std::forward<T>(grads)), ...);
  return out;
}

// ---- grad mode ----
bool grad_enabled();
// Turns recording off for its scope (thread-local), as torch.no_grad().
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// ---- which implementation the graph's ops use ----
// Ops on Vars run the implementation of the innermost ImplScope (default Auto),
// forward and backward alike, so a whole model can be run naive or fast
// (`cudl train --impl`, the naive-vs-fast model tests).
Impl current_impl();
class ImplScope {
 public:
  explicit ImplScope(Impl impl);
  ~ImplScope();
  ImplScope(const ImplScope&) = delete;
  ImplScope& operator=(const ImplScope&) = delete;

 private:
  Impl previous_;
};

// dst += src (same shape and device); dst undefined: dst = src. How gradients
// of fanned-out values and of leaves are summed.
void accumulate(Tensor& dst, Tensor src);

}  // namespace cudl
