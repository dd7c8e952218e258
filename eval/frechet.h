// The Fréchet distance between two Gaussians fitted to feature sets, as FID
// computes it (Heusel et al. 2017; pytorch-fid's formula):
//   d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})
// Here the features come from our own Fashion-MNIST classifier rather than
// Inception-v3, so values are comparable only between runs of one classifier.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace cudl {

// Mean and unbiased covariance (divided by N - 1, as numpy.cov) of N feature rows.
struct GaussianStats {
  std::int64_t count = 0;
  std::int64_t dim = 0;
  std::vector<double> mean;        // [dim]
  std::vector<double> covariance;  // [dim, dim], row-major, symmetric
};

// Two passes in double (the mean first, then centred products), so a large
// common offset does not cancel away the covariance. features: float32 [N, D],
// host, N >= 2.
GaussianStats gaussian_stats(const Tensor& features);

struct FrechetDistance {
  double distance = 0;    // mean_term + trace_term, never negative
  double mean_term = 0;   // ||mu1 - mu2||^2
  double trace_term = 0;  // Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})
  // Eigenvalues of S1 and S2 at the rounding floor (below D * eps * the
  // largest, negative ones included) that were set to zero: a covariance of
  // rank < D (N <= D, or features that are exactly dependent, such as ReLU
  // units that are never active) has them. most_negative_relative is the most
  // negative seen (0 when none) over the largest eigenvalue of the same matrix.
  std::int64_t clamped_eigenvalues = 0;
  double most_negative_relative = 0;
};

// Tr((S1 S2)^{1/2}) is the sum of the singular values of R1 R2, where Ri = Si^{1/2}
// (symmetric, from a self-adjoint eigensolver): R1 S2 R1 = (R1 R2)(R1 R2)^T is
// similar to S1 S2, so its eigenvalues, the squared singular values, are those
// of S1 S2. Taking singular values of R1 R2 rather than square roots of the
// eigenvalues of S1 S2 or R1 S2 R1 (scipy.linalg.sqrtm, pytorch-fid) avoids
// squaring the condition number: rounding e * ||S1|| ||S2|| on an eigenvalue near
// zero becomes sqrt(e ||S1|| ||S2||) after the root, about 5e-6 for ||S|| = 500,
// while the singular values carry e * ||R1 R2|| only.
FrechetDistance frechet_distance(const GaussianStats& a, const GaussianStats& b);

}  // namespace cudl
