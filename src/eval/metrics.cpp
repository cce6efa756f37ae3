// 3D pose error metrics.
#include <Eigen/LU>
#include <Eigen/SVD>

#include "monobody/error.hpp"
#include "monobody/eval.hpp"

namespace monobody {
namespace {

void check_same_shape(const Eigen::Matrix3Xd& a, const Eigen::Matrix3Xd& b) {
  if (a.cols() != b.cols() || a.cols() == 0)
    throw Error("metrics: poses of " + std::to_string(a.cols()) + " and " + std::to_string(b.cols()) + " joints");
}

}  // namespace

double mpjpe(const Eigen::Matrix3Xd& estimate, const Eigen::Matrix3Xd& truth, int root) {
  check_same_shape(estimate, truth);
  if (root < 0 || root >= estimate.cols()) throw Error("metrics: root joint out of range");
  const Eigen::Matrix3Xd e = estimate.colwise() - estimate.col(root);
  const Eigen::Matrix3Xd t = truth.colwise() - truth.col(root);
  return (e - t).colwise().norm().mean();
}

Eigen::Matrix3Xd Similarity::apply(const Eigen::Matrix3Xd& points) const {
  return ((scale * rotation) * points).colwise() + translation;
}

// Umeyama's closed form: the rotation from the SVD of the cross-covariance, with the sign of the smallest
// singular direction flipped when that is needed for det = +1.
Similarity procrustes(const Eigen::Matrix3Xd& from, const Eigen::Matrix3Xd& to) {
  check_same_shape(from, to);
  const Eigen::Vector3d mean_from = from.rowwise().mean();
  const Eigen::Vector3d mean_to = to.rowwise().mean();
  const Eigen::Matrix3Xd a = from.colwise() - mean_from;
  const Eigen::Matrix3Xd b = to.colwise() - mean_to;
  const Eigen::Matrix3d cov = b * a.transpose();
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(cov, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Vector3d d = Eigen::Vector3d::Ones();
  if ((svd.matrixU() * svd.matrixV().transpose()).determinant() < 0) d[2] = -1;
  Similarity s;
  s.rotation = svd.matrixU() * d.asDiagonal() * svd.matrixV().transpose();
  const double variance = a.squaredNorm();
  s.scale = variance > 0 ? svd.singularValues().dot(d) / variance : 1.0;
  s.translation = mean_to - s.scale * s.rotation * mean_from;
  return s;
}

double pa_mpjpe(const Eigen::Matrix3Xd& estimate, const Eigen::Matrix3Xd& truth) {
  return (procrustes(estimate, truth).apply(estimate) - truth).colwise().norm().mean();
}

}  // namespace monobody
