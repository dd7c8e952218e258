#include "autograd/var.h"

#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/check.h"
#if CUDL_WITH_CUDA
#include "autograd/cuda/add_inplace.h"
#endif

namespace cudl {

struct VarState {
  Tensor value;
  Tensor grad;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;      // set on non-leaves
  std::shared_ptr<Node> accumulator;  // leaves that require grad, made on first use
};

namespace {
const Tensor& undefined_tensor() {
  static const Tensor t;
  return t;
}

VarState& checked(const std::shared_ptr<VarState>& s) {
  CUDL_CHECK(s != nullptr, "Var: the value is undefined");
  return *s;
}

void add_inplace(Tensor& dst, const Tensor& src) {
  CUDL_CHECK(dst.shape() == src.shape() && dst.device() == src.device(), "autograd: cannot add a gradient ",
             src.str(), " to one of ", dst.str());
  const std::int64_t n = src.numel();
  float* d = dst.data<float>();
  const float* s = src.data<float>();
  if (src.is_cuda()) {
#if CUDL_WITH_CUDA
    cuda::add_inplace(src.device().index, d, s, n);
#endif
    return;
  }
#pragma omp parallel for schedule(static) if (n > 65536)
  for (std::int64_t i = 0; i < n; ++i) d[i] += s[i];
}

thread_local bool t_grad_enabled = true;
thread_local Impl t_impl = Impl::Auto;
}  // namespace

void accumulate(Tensor& dst, Tensor src) {
  check_float("autograd", "gradient", src);
  if (!dst.defined()) {
    dst = std::move(src);
    return;
  }
  // Gradients pass through views (reshape, identity): never write into storage
  // that another gradient or a saved value shares.
  if (!dst.is_sole_owner()) dst = dst.clone();
  add_inplace(dst, src);
}

// ---- Var ----
Var::Var(Tensor value, bool requires_grad) : state_(std::make_shared<VarState>()) {
  CUDL_CHECK(value.defined(), "Var: cannot wrap an undefined tensor");
  state_->value = std::move(value);
  set_requires_grad(requires_grad);
}

const Tensor& Var::value() const { return checked(state_).value; }
Tensor& Var::value() { return checked(state_).value; }
const Tensor& Var::grad() const { return state_ ? state_->grad : undefined_tensor(); }
Tensor& Var::grad() { return checked(state_).grad; }
bool Var::requires_grad() const { return state_ && state_->requires_grad; }
bool Var::is_leaf() const { return !state_ || state_->grad_fn == nullptr; }
std::string Var::op() const { return state_ && state_->grad_fn ? state_->grad_fn->op : ""; }

void Var::set_requires_grad(bool requires_grad) {
  VarState& s = checked(state_);
  CUDL_CHECK(s.grad_fn == nullptr, "Var::set_requires_grad: only leaves can change it; this value was made by ",
             s.grad_fn->op, " (use detach())");
  if (requires_grad) check_float("Var::set_requires_grad", "value", s.value);
  s.requires_grad = requires_grad;
}

Var Var::detach() const { return Var(value().view()); }

void Var::zero_grad() {
  if (state_) state_->grad = Tensor();
}

std::shared_ptr<Node> Var::gradient_edge() const {
  if (!requires_grad()) return nullptr;
  if (state_->grad_fn) return state_->grad_fn;
  if (!state_->accumulator) {
    auto acc = std::make_shared<Node>();
    acc->op = "accumulate_grad";
    acc->is_accumulator = true;
    acc->leaf = state_;
    state_->accumulator = std::move(acc);
  }
  return state_->accumulator;
}

Var Var::from_node(Tensor value, std::shared_ptr<Node> node) {
  Var v(std::move(value));
  v.state_->requires_grad = true;
  v.state_->grad_fn = std::move(node);
  return v;
}

Var record(const char* op, Tensor out, const std::vector<const Var*>& inputs, BackwardFn backward) {
  bool any = false;
  for (const Var* in : inputs) any = any || (in->defined() && in->requires_grad());
  if (!any || !grad_enabled()) return Var(std::move(out));
  auto node = std::make_shared<Node>();
  node->op = op;
  for (const Var* in : inputs) {
    node->next.push_back(in->defined() ? in->gradient_edge() : nullptr);
    node->input_shapes.push_back(in->defined() ? in->shape() : Shape{});
    node->input_devices.push_back(in->defined() ? in->device() : Device::cpu());
  }
  node->backward = std::move(backward);
  return Var::from_node(std::move(out), std::move(node));
}

// ---- the engine ----
namespace {
// Nodes reachable from `root`, each after every node that feeds it a gradient
// (reverse post-order of a depth-first walk; iterative, so deep graphs such as
// long sequences cannot overflow the stack).
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> post;
  std::unordered_set<Node*> seen{root};
  std::vector<std::pair<Node*, std::size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, i] = stack.back();
    if (i < node->next.size()) {
      Node* child = node->next[i++].get();
      if (child && seen.insert(child).second) stack.emplace_back(child, 0);
    } else {
      post.push_back(node);
      stack.pop_back();
    }
  }
  return {post.rbegin(), post.rend()};
}

void run_backward(const Var& root, Tensor upstream, bool retain_graph) {
  const std::shared_ptr<Node> root_node = root.gradient_edge();
  CUDL_CHECK(root_node != nullptr,
             "backward: the value does not require grad (no input of the ops that made it requires grad, or it was "
             "made under NoGradGuard)");
  std::unordered_map<Node*, Tensor> grads;
  grads.emplace(root_node.get(), std::move(upstream));
  for (Node* node : topological_order(root_node.get())) {
    auto it = grads.find(node);
    if (it == grads.end()) continue;  // every path to it carried no gradient
    Tensor grad = std::move(it->second);
    grads.erase(it);
    if (node->is_accumulator) {
      if (auto leaf = node->leaf.lock()) {
        // A leaf's .grad() outlives this call: give it storage of its own.
        if (!leaf->grad.defined() && !grad.is_sole_owner()) grad = grad.clone();
        accumulate(leaf->grad, std::move(grad));
      }
      continue;
    }
    CUDL_CHECK(!node->released, "backward: ", node->op,
               "'s saved values were freed by an earlier backward(); pass retain_graph = true to the first one to go "
               "through the graph twice");
    std::vector<Tensor> input_grads = node->backward(grad, *node);
    CUDL_CHECK(input_grads.size() == node->next.size(), "backward: ", node->op, " returned ", input_grads.size(),
               " gradients for ", node->next.size(), " inputs");
    if (!retain_graph) {
      node->backward = BackwardFn();  // frees what the forward saved
      node->released = true;
    }
    for (std::size_t i = 0; i < input_grads.size(); ++i) {
      if (!node->next[i] || !input_grads[i].defined()) continue;
      CUDL_CHECK(input_grads[i].shape() == node->input_shapes[i] && input_grads[i].device() == node->input_devices[i],
                 "backward: ", node->op, " gave input ", i, " a gradient ", input_grads[i].str(), ", expected ",
                 shape_str(node->input_shapes[i]), " on ", node->input_devices[i].str());
      accumulate(grads[node->next[i].get()], std::move(input_grads[i]));
    }
  }
}
}  // namespace

void Var::backward(bool retain_graph) const {
  CUDL_CHECK(defined(), "backward: the value is undefined");
  CUDL_CHECK(numel() == 1, "backward: a value of shape ", shape_str(shape()),
             " is not a scalar; pass the upstream gradient (backward(dout))");
  run_backward(*this, Tensor::full(shape(), 1.0f, device()), retain_graph);
}

void Var::backward(const Tensor& upstream, bool retain_graph) const {
  CUDL_CHECK(defined(), "backward: the value is undefined");
  check_float("backward", "upstream gradient", upstream);
  CUDL_CHECK(upstream.shape() == shape() && upstream.device() == device(), "backward: expected an upstream gradient ",
             shape_str(shape()), " on ", device().str(), ", got ", upstream.str());
  run_backward(*this, upstream.view(), retain_graph);
}

// ---- modes ----
bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

Impl current_impl() { return t_impl; }
ImplScope::ImplScope(Impl impl) : previous_(t_impl) { t_impl = impl; }
ImplScope::~ImplScope() { t_impl = previous_; }

}  // namespace cudl
