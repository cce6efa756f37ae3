#include "monobody/keypoints.hpp"

#include <algorithm>
#include <cmath>

namespace monobody {
namespace {

// Applies a joint mapping to a D x J matrix of points with per-joint confidence.
template <int D>
void apply_mapping(const JointMapping& map, const Eigen::Matrix<double, D, Eigen::Dynamic>& in,
                   const Eigen::VectorXd& conf_in, Eigen::Matrix<double, D, Eigen::Dynamic>& out,
                   Eigen::VectorXd& conf_out, const Eigen::VectorXd* depth_in = nullptr,
                   Eigen::VectorXd* depth_out = nullptr) {
  const int n = int(map.sources.size());
  out.setZero(D, n);
  conf_out.setZero(n);
  if (depth_out) depth_out->setZero(n);
  for (int j = 0; j < n; ++j) {
    const auto& src = map.sources[j];
    if (src.empty()) continue;
    double conf = 1.0;
    for (auto [k, w] : src) {
      const bool finite = in.col(k).allFinite();
      conf = std::min(conf, finite ? conf_in[k] : 0.0);
      if (finite) out.col(j) += w * in.col(k);
      if (depth_out && finite) (*depth_out)[j] += w * (*depth_in)[k];
    }
    conf_out[j] = std::max(conf, 0.0);
  }
}

}  // namespace

Keypoints2D Keypoints2D::zeros(JointSet set) {
  const int n = skeleton(set).size();
  return {set, Eigen::Matrix2Xd::Zero(2, n), Eigen::VectorXd::Zero(n), {}};
}

bool Keypoints2D::valid(int j) const { return confidence[j] > 0 && xy.col(j).allFinite(); }

int Keypoints2D::count_valid() const {
  int n = 0;
  for (int j = 0; j < size(); ++j) n += valid(j);
  return n;
}

Joints3D Joints3D::zeros(JointSet set) {
  const int n = skeleton(set).size();
  return {set, Eigen::Matrix3Xd::Zero(3, n), Eigen::VectorXd::Zero(n)};
}

bool Joints3D::valid(int j) const { return confidence[j] > 0 && xyz.col(j).allFinite(); }

Keypoints2D map_joints(const Keypoints2D& keypoints, JointSet to) {
  const JointMapping& map = joint_mapping(keypoints.joint_set, to);
  Keypoints2D out;
  out.joint_set = to;
  const bool has_depth = keypoints.depth.size() == keypoints.size();
  apply_mapping<2>(map, keypoints.xy, keypoints.confidence, out.xy, out.confidence,
                   has_depth ? &keypoints.depth : nullptr, has_depth ? &out.depth : nullptr);
  return out;
}

Joints3D map_joints(const Joints3D& joints, JointSet to) {
  const JointMapping& map = joint_mapping(joints.joint_set, to);
  Joints3D out;
  out.joint_set = to;
  apply_mapping<3>(map, joints.xyz, joints.confidence, out.xyz, out.confidence);
  return out;
}

}  // namespace monobody
