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

LiftOutput SparseLifter::lift(const Keypoints2D& keypoints, const PinholeCamera<double>* camera,
                              SparsePose& pose) const {
  const Keypoints2D kp =
      keypoints.joint_set == JointSet::H36m17 ? keypoints : map_joints(keypoints, JointSet::H36m17);
  if (kp.confidence.size() != kp.size()) throw Error("lift: keypoints without confidences");
  Eigen::Matrix2Xd points = kp.xy;
  if (camera) {
    // Normalised camera coordinates: weak perspective then only has to explain the depth variation.
    for (int j = 0; j < kp.size(); ++j)
      if (kp.valid(j)) points.col(j) = camera->normalized(kp.xy.col(j));
  }
  Eigen::VectorXd weights = kp.confidence;
  for (int j = 0; j < kp.size(); ++j)
    if (!kp.valid(j)) weights[j] = 0.0;

  pose = solver_.solve(points, weights);

  // Metric scale from the mean bone length; the pelvis at the origin.
  const double bones = mean_bone_length(pose.joints, JointSet::H36m17);
  if (!(bones > 1e-12)) throw Error("lift: the reconstructed pose collapsed to a point");
  LiftOutput out;
  out.joints = Joints3D::zeros(JointSet::H36m17);
  out.joints.xyz = pose.joints * (options_.mean_bone_length / bones);
  out.joints.xyz.colwise() -= out.joints.xyz.col(0).eval();
  // Every joint is reconstructed, the unseen ones from the shape model alone.
  out.joints.confidence.setOnes();
  out.iterations = pose.admm_iterations + pose.refine_iterations;
  out.reprojection_rms = pose.reprojection_rms;
  if (camera) out.reprojection_rms *= 0.5 * (camera->fx + camera->fy);  // back to pixels, approximately
  return out;
}

}  // namespace monobody
