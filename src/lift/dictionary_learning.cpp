// Learning pose dictionaries: sparse coding by FISTA, dictionary update by block coordinate descent.
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "monobody/error.hpp"
#include "monobody/lift.hpp"

namespace monobody {
namespace {

// Sparse codes C (K x N) of X (d x N) over D (d x K), warm-started from C:
// min 1/2 ||X - D C||^2 + lambda ||C||_1 by FISTA (Beck and Teboulle, 2009) with step 1 / ||D^T D||.
void sparse_code(const Eigen::MatrixXd& X, const Eigen::MatrixXd& D, double lambda, int iterations,
                 Eigen::MatrixXd& C) {
  const Eigen::MatrixXd G = D.transpose() * D;
  const Eigen::MatrixXd DtX = D.transpose() * X;
  const double L = std::max(Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(G, Eigen::EigenvaluesOnly)
                                .eigenvalues()
                                .maxCoeff(),
                            1e-12);
  Eigen::MatrixXd Yk = C, C_prev = C, step(C.rows(), C.cols());
  double t = 1.0;
  for (int it = 0; it < iterations; ++it) {
    step.noalias() = G * Yk;
    step = Yk - (step - DtX) / L;
    C_prev.swap(C);
    C = step.unaryExpr([&](double v) { return std::copysign(std::max(std::abs(v) - lambda / L, 0.0), v); });
    const double t_next = 0.5 * (1.0 + std::sqrt(1.0 + 4.0 * t * t));
    Yk = C + ((t - 1.0) / t_next) * (C - C_prev);
    t = t_next;
  }
}

}  // namespace

PoseDictionary learn_pose_dictionary(const std::vector<Eigen::Matrix3Xd>& poses,
                                     const DictionaryLearningOptions& options, DictionaryLearningReport* report,
                                     const std::function<void(int, double)>& progress) {
  if (options.bases < 1 || options.iterations < 1 || options.coding_iterations < 1 || !(options.lambda >= 0))
    throw Error("dictionary learning: invalid options");
  if (int(poses.size()) < options.bases)
    throw Error("dictionary learning: " + std::to_string(poses.size()) + " poses for " +
                std::to_string(options.bases) + " bases");
  const int J = int(poses.front().cols()), d = 3 * J, K = options.bases;

  // A reproducible random subset.
  std::mt19937 rng(options.seed);
  std::vector<std::size_t> order(poses.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const int N = int(std::min<std::size_t>(poses.size(), std::size_t(std::max(options.max_samples, K))));
  Eigen::MatrixXd X(d, N);
  for (int n = 0; n < N; ++n) {
    const Eigen::Matrix3Xd& p = poses[order[n]];
    if (p.cols() != J) throw Error("dictionary learning: poses with different joint counts");
    X.col(n) = Eigen::Map<const Eigen::VectorXd>(p.data(), d);  // column-major: joint by joint, (x, y, z)
  }

  // Atoms start as random training poses.
  Eigen::MatrixXd D(d, K);
  for (int k = 0; k < K; ++k) D.col(k) = X.col(int(rng() % N)).normalized();
  Eigen::MatrixXd C = Eigen::MatrixXd::Zero(K, N);
  const double norm_X = X.norm();
  double relative = 1.0;
  for (int it = 0; it < options.iterations; ++it) {
    sparse_code(X, D, options.lambda, it == 0 ? 3 * options.coding_iterations : options.coding_iterations, C);
    // Dictionary update (one pass of block coordinate descent over the atoms, with the norm constraint).
    const Eigen::MatrixXd A = C * C.transpose();
    const Eigen::MatrixXd B = X * C.transpose();
    for (int k = 0; k < K; ++k) {
      if (A(k, k) < 1e-10) {
        D.col(k) = X.col(int(rng() % N)).normalized();  // an unused atom gets a fresh pose
        continue;
      }
      D.col(k) += (B.col(k) - D * A.col(k)) / A(k, k);
      const double norm = D.col(k).norm();
      if (norm < 1e-12) D.col(k) = X.col(int(rng() % N)).normalized();
      else D.col(k) /= std::max(1.0, norm);
    }
    relative = (X - D * C).norm() / norm_X;
    if (progress) progress(it + 1, relative);
  }
  sparse_code(X, D, options.lambda, options.coding_iterations, C);
  relative = (X - D * C).norm() / norm_X;

  PoseDictionary dict;
  dict.joint_set = JointSet::H36m17;
  dict.mean = Eigen::Map<const Eigen::Matrix3Xd>(Eigen::VectorXd(X.rowwise().mean()).data(), 3, J);
  const double basis_norm = dict.mean.norm();
  dict.bases.resize(3 * K, J);
  for (int k = 0; k < K; ++k) {
    const Eigen::VectorXd atom = D.col(k).normalized() * basis_norm;
    dict.bases.middleRows<3>(3 * k) = Eigen::Map<const Eigen::Matrix3Xd>(atom.data(), 3, J);
  }
  if (report) {
    report->relative_error = relative;
    report->mean_active = double((C.array().abs() > 0).count()) / N;
    report->samples = N;
  }
  return dict;
}

}  // namespace monobody
