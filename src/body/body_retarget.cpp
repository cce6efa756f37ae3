#include "body_retarget.hpp"

#include <Eigen/Eigenvalues>

#include "monobody/error.hpp"
#include "monobody/npy.hpp"

namespace monobody {

namespace {

constexpr int kMocapPoints = 38;

// Our bone (from its joint to `tail`, a joint or a landmark) follows the CMU segment from -> to.
struct BoneMap {
  const char* joint;
  const char* tail;
  int from, to;
};
constexpr BoneMap kBoneMap[] = {
    {"left_up_leg", "left_leg", 2, 3},        {"left_leg", "left_foot", 3, 4},
    {"left_foot", "left_toe_base", 4, 5},     {"right_up_leg", "right_leg", 8, 9},
    {"right_leg", "right_foot", 9, 10},       {"right_foot", "right_toe_base", 10, 11},
    {"lower_back", "spine", 0, 14},           {"spine", "spine1", 14, 15},
    {"spine1", "neck", 15, 17},               {"neck", "neck1", 17, 18},
    {"head", "head_top", 18, 19},             {"left_shoulder", "left_arm", 15, 21},
    {"left_arm", "left_fore_arm", 21, 22},    {"left_fore_arm", "left_hand", 22, 23},
    {"left_hand", "left_finger_base", 23, 25}, {"right_shoulder", "right_arm", 15, 30},
    {"right_arm", "right_fore_arm", 30, 31},  {"right_fore_arm", "right_hand", 31, 32},
    {"right_hand", "right_finger_base", 32, 34}};

// Orthonormal frame from a left-right axis and an up axis.
Eigen::Matrix3d body_frame(const Eigen::Vector3d& left, const Eigen::Vector3d& up) {
  Eigen::Matrix3d F;
  F.col(0) = left.normalized();
  F.col(1) = (up - F.col(0) * F.col(0).dot(up)).normalized();
  F.col(2) = F.col(0).cross(F.col(1));
  return F;
}

}  // namespace

std::vector<Eigen::VectorXd> retarget_cmu_clip(const BodyModel& model, const std::filesystem::path& clip, int step) {
  const NpyArray<double> a = read_npy<double>(clip);
  if (a.shape.size() != 3 || a.shape[1] != kMocapPoints || a.shape[2] != 3)
    throw Error("'" + clip.string() + "' is not a CMU clip of (T, 38, 3) joint positions");
  const int J = model.num_joints();
  const Eigen::Matrix3Xd rest = model.rest_joints(Eigen::VectorXd());
  auto rest_point = [&](const char* name) -> Eigen::Vector3d {
    for (const auto& l : model.landmarks)
      if (l.name == name) {
        Eigen::Vector3d c = Eigen::Vector3d::Zero();
        for (auto [v, w] : l.vertices) c += w * model.template_vertices.col(v);
        return c;
      }
    return rest.col(model.joint(name));
  };
  struct Bone {
    int joint;
    Eigen::Vector3d rest_dir;
    int from, to;
  };
  std::vector<Bone> bones;
  for (const auto& b : kBoneMap)
    bones.push_back({model.joint(b.joint), (rest_point(b.tail) - rest.col(model.joint(b.joint))).normalized(), b.from, b.to});
  std::vector<int> bone_of(std::size_t(J), -1);
  for (std::size_t i = 0; i < bones.size(); ++i) bone_of[std::size_t(bones[i].joint)] = int(i);
  const Eigen::Matrix3d rest_frame = body_frame(rest.col(model.joint("left_up_leg")) - rest.col(model.joint("right_up_leg")),
                                                rest.col(model.joint("spine1")) - rest.col(0));

  std::vector<Eigen::VectorXd> poses;
  std::vector<Eigen::Matrix3d> global(static_cast<std::size_t>(J));
  for (std::int64_t t = 0; t < a.shape[0]; t += std::max(1, step)) {
    auto p = [&](int i) { return Eigen::Vector3d(a.at({t, i, 0}), a.at({t, i, 1}), a.at({t, i, 2})); };
    Eigen::VectorXd pose = Eigen::VectorXd::Zero(3 * J);
    global[0] = body_frame(p(2) - p(8), p(15) - p(0)) * rest_frame.transpose();
    pose.head<3>() = matrix_to_axis_angle<double>(global[0]);
    bool ok = true;
    for (int j = 1; j < J; ++j) {
      const Eigen::Matrix3d& parent = global[std::size_t(model.parents[std::size_t(j)])];
      global[std::size_t(j)] = parent;
      if (bone_of[std::size_t(j)] < 0) continue;
      const Bone& b = bones[std::size_t(bone_of[std::size_t(j)])];
      const Eigen::Vector3d target = p(b.to) - p(b.from);
      if (!(target.norm() > 1e-6)) {
        ok = false;
        break;
      }
      const Eigen::Matrix3d swing =
          Eigen::Quaterniond::FromTwoVectors(parent * b.rest_dir, target.normalized()).toRotationMatrix();
      global[std::size_t(j)] = swing * parent;
      pose.segment<3>(3 * j) = matrix_to_axis_angle<double>(Eigen::Matrix3d(parent.transpose() * swing * parent));
    }
    if (ok && pose.allFinite()) poses.push_back(pose);
  }
  return poses;
}

PosePrior learn_pose_prior(const BodyModel& model, const std::vector<Eigen::VectorXd>& poses) {
  const int n = 3 * model.num_joints();
  if (poses.size() < 100) throw Error("too few motion capture poses to learn a pose prior");
  std::vector<int> active;  // components that ever move (the root's are the global orientation, excluded)
  for (int i = 3; i < n; ++i)
    for (const auto& p : poses)
      if (p[i] != 0.0) {
        active.push_back(i);
        break;
      }
  const int A = int(active.size());
  Eigen::MatrixXd data(A, Eigen::Index(poses.size()));
  for (std::size_t f = 0; f < poses.size(); ++f)
    for (int k = 0; k < A; ++k) data(k, Eigen::Index(f)) = poses[f][active[std::size_t(k)]];
  const Eigen::VectorXd mean = data.rowwise().mean();
  const Eigen::MatrixXd centred = data.colwise() - mean;
  const Eigen::MatrixXd cov = centred * centred.transpose() / double(poses.size() - 1);
  // Variances below (0.05 rad)^2 are raised to it: twist, which the retargeting cannot observe, then stays
  // possible but costly.
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  const Eigen::VectorXd variance = eig.eigenvalues().cwiseMax(0.05 * 0.05);
  const Eigen::MatrixXd whitening_active = variance.cwiseSqrt().cwiseInverse().asDiagonal() * eig.eigenvectors().transpose();

  PosePrior prior;
  prior.mean = Eigen::VectorXd::Zero(n);
  prior.whitening = Eigen::MatrixXd::Zero(A, n);
  prior.lower = Eigen::VectorXd::Zero(n);
  prior.upper = Eigen::VectorXd::Zero(n);
  constexpr double kMargin = 0.15;  // radians beyond the extremes seen in the capture
  for (int k = 0; k < A; ++k) {
    const int i = active[std::size_t(k)];
    prior.mean[i] = mean[k];
    prior.whitening.col(i) = whitening_active.col(k);
    prior.lower[i] = data.row(k).minCoeff() - kMargin;
    prior.upper[i] = data.row(k).maxCoeff() + kMargin;
  }
  return prior;
}

}  // namespace monobody
