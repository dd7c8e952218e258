// embedding: out[..., :] = w[idx[...], :] (torch.nn.functional.embedding).
//   idx [...] int64 in [0, V), w [V, D]  ->  out [..., D]
// An index outside [0, V) throws a cudl::Error naming the index, its position
// and V. On CUDA the indices are checked on the device and the answer read back,
// which synchronises cudl's stream once per call.
#pragma once

#include <cstdint>
#include <optional>

#include "core/tensor.h"
#include "kernels/backend.h"

namespace cudl {

Tensor embedding_forward(const Tensor& idx, const Tensor& w, Impl impl = Impl::Auto);
// dw [V, D]: dw[v] = sum of dout[p] over the positions p with idx[p] == v, added in
// position order on every implementation but cuda_naive (atomics). The row of
// `padding_idx` (negative: counted from V, as torch) gets no gradient.
Tensor embedding_backward(const Tensor& dout, const Tensor& idx, std::int64_t num_embeddings,
                          std::optional<std::int64_t> padding_idx = std::nullopt, Impl impl = Impl::Auto);

}  // namespace cudl
