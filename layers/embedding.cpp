#include "layers/embedding.h"

#include "autograd/tensor_ops.h"
#include "core/random.h"

namespace cudl {

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t dim, Generator& gen, Device device,
                     std::optional<std::int64_t> padding_idx_, float std)
    : weight(Tensor::empty({num_embeddings, dim}, DType::F32, device)), padding_idx(padding_idx_) {
  fill_normal(weight.value(), gen, 0.0f, std);
  register_parameter("weight", &weight);
}

Var Embedding::forward(const Tensor& ids) const { return embedding(ids, weight, padding_idx); }

std::string Embedding::name() const {
  std::string s = "Embedding(" + std::to_string(weight.size(0)) + ", " + std::to_string(weight.size(1));
  if (padding_idx) s += ", padding_idx=" + std::to_string(*padding_idx);
  return s + ")";
}

}  // namespace cudl
