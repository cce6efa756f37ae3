// The sparse solver with 2D heatmaps instead of single keypoints: expectation-maximisation (lift.hpp,
// SparseEmOptions).
#include <cmath>

#include "monobody/error.hpp"
#include "monobody/lift.hpp"

namespace monobody {

SparsePose SparsePoseSolver::solve_with_heatmaps(const std::vector<KeypointHeatmap>& heatmaps,
                                                 const SparseEmOptions& em) const {
  const int J = dictionary_->joint_count();
  if (int(heatmaps.size()) != J)
    throw Error("lift: " + std::to_string(heatmaps.size()) + " heatmaps for a dictionary of " + std::to_string(J) +
                " joints");
  if (em.iterations < 0 || !(em.initial_sigma > 0) || !(em.final_sigma > 0))
    throw Error("lift: invalid EM options (iterations >= 0, sigmas > 0)");
  // Start from each heatmap's mean.
  Eigen::Matrix2Xd points = Eigen::Matrix2Xd::Zero(2, J);
  Eigen::VectorXd weights = Eigen::VectorXd::Zero(J);
  for (int j = 0; j < J; ++j) {
    const KeypointHeatmap& h = heatmaps[std::size_t(j)];
    if (h.points.cols() != h.weights.size()) throw Error("lift: a heatmap's points and weights differ in number");
    const double total = h.weights.sum();
    if (h.points.cols() == 0 || !(total > 0) || !h.points.allFinite()) continue;
    points.col(j) = h.points * h.weights / total;
    weights[j] = 1.0;
  }
  SparsePose pose = solve(points, weights);
  for (int it = 0; it < em.iterations; ++it) {
    // E-step: each joint's expected position under heatmap x N(projection, sigma^2).
    Eigen::Matrix2Xd projection = pose.joints.topRows<2>();
    projection.colwise() += pose.translation;
    const Eigen::Vector2d centre = projection.rowwise().mean();
    const double radius = std::sqrt((projection.colwise() - centre).colwise().squaredNorm().mean());
    const double fraction = em.iterations > 1 ? double(it) / double(em.iterations - 1) : 1.0;
    const double sigma = radius * em.initial_sigma * std::pow(em.final_sigma / em.initial_sigma, fraction);
    if (!(sigma > 0)) break;
    for (int j = 0; j < J; ++j) {
      if (weights[j] == 0) continue;
      const KeypointHeatmap& h = heatmaps[std::size_t(j)];
      Eigen::Vector2d sum = Eigen::Vector2d::Zero();
      double total = 0;
      for (Eigen::Index i = 0; i < h.points.cols(); ++i) {
        const double q = h.weights[i] * std::exp(-(h.points.col(i) - projection.col(j)).squaredNorm() / (2 * sigma * sigma));
        sum += q * h.points.col(i);
        total += q;
      }
      if (total > 1e-300) points.col(j) = sum / total;  // else: nothing of the heatmap near; keep the last
    }
    // M-step.
    pose = solve(points, weights);
  }
  return pose;
}

}  // namespace monobody
