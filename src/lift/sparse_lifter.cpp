// The sparse shape-space lifter: joint-set mapping, camera normalisation and metric scale around the solver.
#include <ceres/ceres.h>

#include <cmath>

#include "monobody/error.hpp"
#include "monobody/lift.hpp"
#include "monobody/mlp_lifter.hpp"
#include "monobody/rotation.hpp"

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

// The mirror image of the solver's input (x negated, about the principal point in normalised camera
// coordinates, or about x = 0 in pixels, which the solver's translation absorbs; left and right swapped).
void mirror_input(const Eigen::Matrix2Xd& points, const Eigen::VectorXd& weights, Eigen::Matrix2Xd& mirrored_points,
                  Eigen::VectorXd& mirrored_weights) {
  mirrored_points = mirror_h36m_pixels(points, 0.0);
  mirrored_weights = mirror_h36m_depth(weights);  // any per-joint values: left and right swapped
}

// Averages the mirror image's lifted pose, mirrored back, into `out`.
void average_with_mirror(LiftOutput& out, const LiftOutput& mirrored, double mean_bone_metres) {
  Eigen::Matrix3Xd back = mirror_h36m_joints(mirrored.joints.xyz);
  // One view leaves the pose's reflection in depth almost as good as the pose: when the two solves settle on
  // opposite reflections, their average would flatten the person, so the mirror image's is reflected to agree.
  Eigen::Matrix3Xd reflected = back;
  reflected.row(2) *= -1.0;
  if ((reflected - out.joints.xyz).squaredNorm() < (back - out.joints.xyz).squaredNorm()) back = reflected;
  out.joints.xyz = 0.5 * (out.joints.xyz + back);
  // The average of two poses has slightly shorter bones: back to the metric scale both had.
  out.joints.xyz *= mean_bone_metres / mean_bone_length(out.joints.xyz, JointSet::H36m17);
  out.iterations += mirrored.iterations;
}

// Perspective reprojection of the pose X_j = R exp(omega) S(c)_j * depth + T onto normalised camera
// coordinates, plus a pull of the coefficients towards their weak-perspective values. Parameter blocks:
// coefficients (over the bases in use), omega (3), T (3).
struct PerspectiveCost {
  const Eigen::MatrixXd* bases;    // 3m x J: the bases in use
  const Eigen::Matrix2Xd* points;  // normalised camera coordinates
  const Eigen::VectorXd* weights;
  Eigen::Matrix3d R0;
  Eigen::VectorXd c0;
  double depth = 1.0;              // metres per unit of the weak-perspective shape
  double prior = 1.0;

  template <typename T>
  bool operator()(T const* const* parameters, T* r) const {
    const T* c = parameters[0];
    const T* omega = parameters[1];
    const T* t = parameters[2];
    const int m = int(c0.size()), J = int(points->cols());
    const Mat3<T> R = axis_angle_to_matrix<T>(Vec3<T>(omega[0], omega[1], omega[2])) * R0.cast<T>();
    for (int j = 0; j < J; ++j) {
      Vec3<T> S = Vec3<T>::Zero();
      for (int a = 0; a < m; ++a) S += c[a] * bases->block<3, 1>(3 * a, j).cast<T>();
      const Vec3<T> X = R * S * T(depth) + Vec3<T>(t[0], t[1], t[2]);
      const T w = T(std::sqrt((*weights)[j]));
      *r++ = w * (X.x() / X.z() - T((*points)(0, j)));
      *r++ = w * (X.y() / X.z() - T((*points)(1, j)));
    }
    for (int a = 0; a < m; ++a) *r++ = T(prior) * (c[a] - T(c0[a]));
    return true;
  }
};

// Refines a weak-perspective solution on normalised camera coordinates under full perspective. The pose's
// joints are returned in the weak-perspective units (the metric scale is set afterwards from the bones).
void refine_under_perspective(const PoseDictionary& dictionary, const Eigen::Matrix2Xd& points,
                              const Eigen::VectorXd& weights, double prior, SparsePose& pose) {
  std::vector<int> used;
  for (int k = 0; k < pose.coefficients.size(); ++k)
    if (pose.coefficients[k] != 0) used.push_back(k);
  const double bones = mean_bone_length(pose.joints, JointSet::H36m17);
  if (used.empty() || !(bones > 1e-12)) return;
  const int m = int(used.size()), J = int(points.cols());
  Eigen::MatrixXd bases(3 * m, J);
  for (int a = 0; a < m; ++a) bases.middleRows<3>(3 * a) = dictionary.basis(used[std::size_t(a)]);
  // Weak perspective says x = R S + t in normalised coordinates: the body at depth Z0 with R S * Z0 metric.
  // Z0 = kH36mMeanBoneLength / bones puts it at a plausible distance for its size.
  const double depth = kH36mMeanBoneLength / bones;
  auto* functor = new PerspectiveCost{&bases, &points, &weights, pose.rotation, Eigen::VectorXd(m), depth, prior};
  for (int a = 0; a < m; ++a) functor->c0[a] = pose.coefficients[used[std::size_t(a)]];
  std::vector<double> c(functor->c0.data(), functor->c0.data() + m);
  double omega[3] = {0, 0, 0};
  double t[3] = {pose.translation.x() * depth, pose.translation.y() * depth, depth};
  auto* cost = new ceres::DynamicAutoDiffCostFunction<PerspectiveCost, 8>(functor);
  cost->AddParameterBlock(m);
  cost->AddParameterBlock(3);
  cost->AddParameterBlock(3);
  cost->SetNumResiduals(2 * J + m);
  ceres::Problem problem;
  problem.AddResidualBlock(cost, nullptr, {c.data(), omega, t});
  ceres::Solver::Options options;
  options.linear_solver_type = ceres::DENSE_QR;
  options.max_num_iterations = 20;
  options.num_threads = 1;
  options.logging_type = ceres::SILENT;
  ceres::Solver::Summary summary;
  ceres::Solve(options, &problem, &summary);
  const Eigen::Matrix3d R = axis_angle_to_matrix<double>(Eigen::Vector3d(omega[0], omega[1], omega[2])) * pose.rotation;
  Eigen::Matrix3Xd shape = Eigen::Matrix3Xd::Zero(3, J);
  for (int a = 0; a < m; ++a) shape += c[std::size_t(a)] * bases.middleRows<3>(3 * a);
  if (!shape.allFinite() || !R.allFinite() || !(t[2] > 0)) return;  // keep the weak-perspective answer
  for (int a = 0; a < m; ++a) pose.coefficients[used[std::size_t(a)]] = c[std::size_t(a)];
  pose.rotation = nearest_rotation(R);
  pose.shape = shape;
  pose.joints = pose.rotation * shape;
  pose.refine_iterations += int(summary.iterations.size());
}

}  // namespace

LiftOutput SparseLifter::lift(const Keypoints2D& keypoints, const PinholeCamera<double>* camera,
                              SparsePose& pose) const {
  Eigen::Matrix2Xd points;
  Eigen::VectorXd weights;
  solver_input(keypoints, camera, points, weights);
  pose = solve(points, weights, camera);
  LiftOutput out = lift_output(pose, camera, options_.mean_bone_length);
  if (!options_.flip_average) return out;
  Eigen::Matrix2Xd mirrored_points;
  Eigen::VectorXd mirrored_weights;
  mirror_input(points, weights, mirrored_points, mirrored_weights);
  const SparsePose mirrored_pose = solve(mirrored_points, mirrored_weights, camera);
  const LiftOutput mirrored = lift_output(mirrored_pose, camera, options_.mean_bone_length);
  average_with_mirror(out, mirrored, options_.mean_bone_length);
  return out;
}

SparsePose SparseLifter::solve(const Eigen::Matrix2Xd& points, const Eigen::VectorXd& weights,
                               const PinholeCamera<double>* camera) const {
  SparsePose pose = solver_.solve(points, weights);
  if (camera && options_.perspective)
    refine_under_perspective(*dictionary_, points, weights, options_.perspective_coefficient_prior, pose);
  return pose;
}

LiftOutput SparseLifter::lift_with_heatmaps(const Keypoints2D& keypoints, const std::vector<KeypointHeatmap>& heatmaps,
                                            const PinholeCamera<double>* camera, const SparseEmOptions& em) const {
  if (int(heatmaps.size()) != keypoints.size())
    throw Error("lift: " + std::to_string(heatmaps.size()) + " heatmaps for " + std::to_string(keypoints.size()) +
                " keypoints");
  Eigen::Matrix2Xd points;
  Eigen::VectorXd weights;
  solver_input(keypoints, camera, points, weights);
  // Each H36M joint that is exactly one joint of the keypoints' set takes that joint's heatmap; the others (means
  // of several, e.g. the pelvis) stay at their mapped keypoint: a single sample.
  const Skeleton& from = skeleton(keypoints.joint_set);
  const Skeleton& to = skeleton(JointSet::H36m17);
  std::vector<KeypointHeatmap> h36m(std::size_t(to.size()));
  for (int j = 0; j < to.size(); ++j) {
    KeypointHeatmap& h = h36m[std::size_t(j)];
    if (weights[j] == 0) continue;  // not seen
    int source = -1;
    for (int i = 0; i < from.size(); ++i)
      if (from.joints[std::size_t(i)] == to.joints[std::size_t(j)]) source = i;
    if (source >= 0 && heatmaps[std::size_t(source)].points.cols() > 0) {
      h = heatmaps[std::size_t(source)];
      if (camera)
        for (Eigen::Index i = 0; i < h.points.cols(); ++i) h.points.col(i) = camera->normalized(Eigen::Vector2d(h.points.col(i)));
    } else {
      h.points = points.col(j);
      h.weights = Eigen::VectorXd::Ones(1);
    }
  }
  SparsePose pose = solver_.solve_with_heatmaps(h36m, em);
  if (camera && options_.perspective) {
    // The perspective refinement fits the EM's final expected positions, i.e. where the pose's joints are now.
    Eigen::Matrix2Xd expected = pose.joints.topRows<2>();
    expected.colwise() += pose.translation;
    refine_under_perspective(*dictionary_, expected, weights, options_.perspective_coefficient_prior, pose);
  }
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
  auto lift_all = [&](const std::vector<Eigen::Matrix2Xd>& pts, const std::vector<Eigen::VectorXd>& wts) {
    auto poses = solver_.solve_sequence(pts, wts, options_.video);
    std::vector<std::optional<LiftOutput>> lifted(frames.size());
    for (std::size_t t = 0; t < frames.size(); ++t) {
      if (!poses[t]) continue;
      if (camera && options_.perspective)
        refine_under_perspective(*dictionary_, pts[t], wts[t], options_.perspective_coefficient_prior, *poses[t]);
      try {
        lifted[t] = lift_output(*poses[t], camera, options_.mean_bone_length);
      } catch (const Error&) {
      }
    }
    return lifted;
  };
  std::vector<std::optional<LiftOutput>> out = lift_all(points, weights);
  if (!options_.flip_average) return out;
  // The mirrored run, solved jointly as well, averaged in frame by frame (as lift() does for one frame).
  std::vector<Eigen::Matrix2Xd> mirrored_points(frames.size());
  std::vector<Eigen::VectorXd> mirrored_weights(frames.size());
  for (std::size_t t = 0; t < frames.size(); ++t) mirror_input(points[t], weights[t], mirrored_points[t], mirrored_weights[t]);
  const std::vector<std::optional<LiftOutput>> mirrored = lift_all(mirrored_points, mirrored_weights);
  for (std::size_t t = 0; t < frames.size(); ++t)
    if (out[t] && mirrored[t]) average_with_mirror(*out[t], *mirrored[t], options_.mean_bone_length);
  return out;
}

}  // namespace monobody
