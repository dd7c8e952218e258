// torch.nn.Embedding: a table of `num_embeddings` rows of `dim`, looked up by
// integer ids. With a padding id, that row gets no gradient (its value still
// flows forward), as torch's padding_idx.
#pragma once

#include <optional>

#include "core/rng.h"
#include "layers/module.h"

namespace cudl {

class Embedding : public Module {
 public:
  // weight N(0, std^2) from `gen`: torch.nn's default is std 1, CS231n's
  // captioner re-initialises with 0.02 (over every row, the padding row too).
  Embedding(std::int64_t num_embeddings, std::int64_t dim, Generator& gen, Device device = Device::cpu(),
            std::optional<std::int64_t> padding_idx = std::nullopt, float std = 1.0f);

  // ids int64 [...] -> [..., dim]; ids out of range throw naming the op.
  Var forward(const Tensor& ids) const;
  std::string name() const override;

  Parameter weight;  // [num_embeddings, dim]
  std::optional<std::int64_t> padding_idx;
};

}  // namespace cudl
