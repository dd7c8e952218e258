#include "eval/frechet.h"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/check.h"

namespace cudl {

namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Eigenvalues of a symmetric positive semi-definite matrix with those at the
// rounding floor set to zero and counted in `result`. A backward-stable solver
// returns each eigenvalue to within about D * eps * largest, so anything below
// that is zero as far as double can tell; zeroing the small positive ones as
// well as the negative ones keeps sqrt(noise) ~ 1e-8 per null direction out of
// the trace (rank-deficient covariances: N <= D, or ReLU units never active).
Eigen::VectorXd clamped_eigenvalues(const Eigen::VectorXd& values, FrechetDistance& result) {
  const double largest = std::max(values.maxCoeff(), 0.0);
  const double floor = static_cast<double>(values.size()) * std::numeric_limits<double>::epsilon() * largest;
  Eigen::VectorXd clamped = values;
  for (Eigen::Index i = 0; i < values.size(); ++i) {
    if (values[i] > floor) continue;
    ++result.clamped_eigenvalues;
    if (largest > 0) result.most_negative_relative = std::min(result.most_negative_relative, values[i] / largest);
    clamped[i] = 0;
  }
  return clamped;
}

// V sqrt(L') V^T, L' the clamped eigenvalues, for the eigendecomposition S = V L V^T.
Matrix psd_square_root(const Eigen::Map<const Matrix>& s, FrechetDistance& result) {
  const Eigen::SelfAdjointEigenSolver<Matrix> eig(s);
  CUDL_CHECK(eig.info() == Eigen::Success, "frechet_distance: the eigensolver did not converge on a covariance");
  const Eigen::VectorXd roots = clamped_eigenvalues(eig.eigenvalues(), result).cwiseSqrt();
  return eig.eigenvectors() * roots.asDiagonal() * eig.eigenvectors().transpose();
}

}  // namespace

GaussianStats gaussian_stats(const Tensor& features) {
  check_float("gaussian_stats", "features", features);
  check_ndim("gaussian_stats", "features", features, 2);
  CUDL_CHECK(!features.is_cuda(), "gaussian_stats: expected features on the host, got ", features.str());
  const std::int64_t n = features.size(0), d = features.size(1);
  CUDL_CHECK(n >= 2, "gaussian_stats: expected at least 2 feature rows for a covariance, got ", features.str());
  const float* x = features.data<float>();
  GaussianStats s{n, d, std::vector<double>(d, 0.0), std::vector<double>(d * d, 0.0)};
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) s.mean[j] += x[i * d + j];
  for (double& m : s.mean) m /= static_cast<double>(n);

  Matrix centred(n, d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) {
      CUDL_CHECK(std::isfinite(x[i * d + j]), "gaussian_stats: feature ", j, " of row ", i, " is not finite");
      centred(i, j) = x[i * d + j] - s.mean[j];
    }
  // X^T X by Eigen's blocked product on one triangle, mirrored: exactly symmetric.
  Matrix products = Matrix::Zero(d, d);
  products.selfadjointView<Eigen::Lower>().rankUpdate(centred.transpose());
  Eigen::Map<Matrix>(s.covariance.data(), d, d) =
      Matrix(products.selfadjointView<Eigen::Lower>()) / static_cast<double>(n - 1);
  return s;
}

FrechetDistance frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  CUDL_CHECK(a.dim == b.dim && a.dim > 0, "frechet_distance: expected statistics of one positive dimension, got ",
             a.dim, " and ", b.dim);
  const Eigen::Index d = a.dim;
  CUDL_CHECK(static_cast<Eigen::Index>(a.mean.size()) == d && static_cast<Eigen::Index>(b.mean.size()) == d &&
                 static_cast<Eigen::Index>(a.covariance.size()) == d * d &&
                 static_cast<Eigen::Index>(b.covariance.size()) == d * d,
             "frechet_distance: mean or covariance sizes do not match dim ", d);
  const Eigen::Map<const Eigen::VectorXd> mu1(a.mean.data(), d), mu2(b.mean.data(), d);
  const Eigen::Map<const Matrix> s1(a.covariance.data(), d, d), s2(b.covariance.data(), d, d);

  FrechetDistance result;
  result.mean_term = (mu1 - mu2).squaredNorm();

  const Matrix r1 = psd_square_root(s1, result), r2 = psd_square_root(s2, result);
  const Eigen::BDCSVD<Matrix> svd(r1 * r2);  // singular values only (divide and conquer: fast at D = 256)
  const double trace_sqrt = svd.singularValues().sum();

  result.trace_term = s1.trace() + s2.trace() - 2 * trace_sqrt;
  // Rounding can take identical sets a hair below zero; a distance is not negative.
  result.distance = std::max(0.0, result.mean_term + result.trace_term);
  return result;
}

}  // namespace cudl
