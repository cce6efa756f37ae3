// Internals shared by the single-frame and the video sparse solvers.
#pragma once

#include <Eigen/Core>

namespace monobody::detail {

constexpr int kMinVisibleJoints = 5;

// The 2D input after removing what the model cannot explain: centred on the weighted centroid and scaled to
// unit weighted RMS radius; weights rescaled to sum to the number of visible joints.
struct NormalizedInput {
  Eigen::Matrix2Xd points;    // 0 at missing joints
  Eigen::VectorXd weights;    // 0 at missing joints
  Eigen::Vector2d centroid;
  double scale = 1.0;         // input units per normalised unit
};

NormalizedInput normalize_input(const Eigen::Matrix2Xd& points, const Eigen::VectorXd& weights);

}  // namespace monobody::detail
