#include "layers/module.h"

namespace cudl {

void Module::to(Device device) {
  for (Parameter* p : parameters()) {
    p->value = p->value.to(device);
    p->grad = p->grad.to(device);
  }
  std::vector<std::pair<std::string, Tensor*>> buffers;
  collect_buffers("", buffers);
  for (auto& [name, t] : buffers) *t = t->to(device);
}

std::vector<Parameter*> Module::parameters() {
  std::vector<Parameter*> all;
  collect_parameters("", all);
  return all;
}

void Module::zero_grad() {
  for (Parameter* p : parameters()) p->grad.zero();
}

}  // namespace cudl
