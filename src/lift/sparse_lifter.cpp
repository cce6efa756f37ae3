// The sparse shape-space lifter: joint-set mapping, camera normalisation and metric scale around the solver.
#include <cmath>

#include "monobody/error.hpp"
#include "monobody/lift.hpp"

namespace monobody {

double mean_bone_length(const Eigen::Matrix3Xd& joints, JointSet set) {
  const auto& bones = skeleton(set).bones;
  double sum = 0.0;
  for (auto [a, b] : bones) sum += (joints.col(a) - joints.col(b)).norm();
  return bones.empty() ? 0.0 : sum / double(bones.size());
}

SparseLifter::SparseLifter(PoseDictionary dictionary, SparseLifterOptions options)
    : dictionary_(std::make_unique<PoseDictionary>(std::move(dictionary))),
      options_(options),
      solver_(*dictionary_, options.solver) {
  if (dictionary_->joint_set != JointSet::H36m17) throw Error("sparse lifter: the dictionary must be h36m17");
  if (!(options.mean_bone_length > 0)) throw Error("sparse lifter: the mean bone length must be positive");
}

LiftOutput SparseLifter::lift(const Keypoints2D& keypoints, const PinholeCamera<double>* camera) const {
  SparsePose pose;
  return lift(keypoints, camera, pose);
}

namespace {

// The solver's input: H36M-17 points (normalised camera coordinates when the camera is known, which removes
// the lens distortion and the principal point from the weak-perspective fit) and their weights.
void solver_input(const Keypoints2D& keypoints, const PinholeCamera<double>* camera, Eigen::Matrix2Xd& points,
                  Eigen::VectorXd& weights) {
  const Keypoints2D kp =
      keypoints.joint_set == JointSet::H36m17 ? keypoints : map_joints(keypoints, JointSet::H36m17);
  if (kp.confidence.size() != kp.size()) throw Error("lift: keypoints without confidences");
  points = kp.xy;
  if (camera) {
    for (int j = 0; j < kp.size(); ++j)
      if (kp.valid(j)) points.col(j) = camera->normalized(kp.xy.col(j));
  }
  weights = kp.confidence;
  for (int j = 0; j < kp.size(); ++j)
    if (!kp.valid(j)) weights[j] = 0.0;
}

// Metric scale from the mean bone length; the pelvis at the origin.
LiftOutput lift_output(const SparsePose& pose, const PinholeCamera<double>* camera, double mean_bone_metres) {
  const double bones = mean_bone_length(pose.joints, JointSet::H36m17);
  if (!(bones > 1e-12)) throw Error("lift: the reconstructed pose collapsed to a point");
  LiftOutput out;
  out.joints = Joints3D::zeros(JointSet::H36m17);
  out.joints.xyz = pose.joints * (mean_bone_metres / bones);
  out.joints.xyz.colwise() -= out.joints.xyz.col(0).eval();
  // Every joint is reconstructed, the unseen ones from the shape model alone.
  out.joints.confidence.setOnes();
  out.iterations = pose.admm_iterations + pose.refine_iterations;
  out.reprojection_rms = pose.reprojection_rms;
  if (camera) out.reprojection_rms *= 0.5 * (camera->fx + camera->fy);  // back to pixels, approximately
  return out;
}

}  // namespace

LiftOutput SparseLifter::lift(const Keypoints2D& keypoints, const PinholeCamera<double>* camera,
                              SparsePose& pose) const {
  Eigen::Matrix2Xd points;
  Eigen::VectorXd weights;
  solver_input(keypoints, camera, points, weights);
  pose = solver_.solve(points, weights);
  return lift_output(pose, camera, options_.mean_bone_length);
}

std::vector<std::optional<LiftOutput>> SparseLifter::lift_sequence(const std::vector<Keypoints2D>& frames,
                                                                   const PinholeCamera<double>* camera) const {
  if (!options_.temporal) return Lifter::lift_sequence(frames, camera);
  std::vector<Eigen::Matrix2Xd> points(frames.size());
  std::vector<Eigen::VectorXd> weights(frames.size());
  for (std::size_t t = 0; t < frames.size(); ++t) {
    try {
      solver_input(frames[t], camera, points[t], weights[t]);
    } catch (const Error&) {
      points[t] = Eigen::Matrix2Xd::Zero(2, 17);  // no usable joints: the solver leaves the frame empty
      weights[t] = Eigen::VectorXd::Zero(17);
    }
  }
  const auto poses = solver_.solve_sequence(points, weights, options_.video);
  std::vector<std::optional<LiftOutput>> out(frames.size());
  for (std::size_t t = 0; t < frames.size(); ++t) {
    if (!poses[t]) continue;
    try {
      out[t] = lift_output(*poses[t], camera, options_.mean_bone_length);
    } catch (const Error&) {
    }
  }
  return out;
}

}  // namespace monobody
