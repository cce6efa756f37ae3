// Test helpers of the export library: the default body model and plausible random tracks.
#pragma once

#include <gtest/gtest.h>

#include <random>

#include "monobody/body.hpp"
#include "monobody/export.hpp"

namespace monobody::test {

// The export frame as export.hpp promises it: the camera frame turned 180 degrees about x.
inline Eigen::Matrix3d export_from_camera() { return Eigen::Vector3d(1, -1, -1).asDiagonal(); }

inline const BodyModel& default_model() {
  static const BodyModel model = load_body_model(default_body_model_path());
  return model;
}

// The model with vertex 0 influenced by six joints (as SMPL-like models have), equally, instead of its own.
inline BodyModel model_with_six_influences(BodyModel model) {
  std::vector<int> offset = {0}, joint;
  std::vector<double> weight;
  for (int v = 0; v < model.num_vertices(); ++v) {
    if (v == 0) {
      for (int j = 0; j < 6; ++j) joint.push_back(j), weight.push_back(1.0 / 6.0);
    } else {
      for (int k = model.skin_offset[std::size_t(v)]; k < model.skin_offset[std::size_t(v + 1)]; ++k)
        joint.push_back(model.skin_joint[std::size_t(k)]), weight.push_back(model.skin_weight[std::size_t(k)]);
    }
    offset.push_back(int(joint.size()));
  }
  model.skin_offset = offset;
  model.skin_joint = joint;
  model.skin_weight = weight;
  model.validate();
  return model;
}

// A track of `frames` random poses: each joint turned up to `max_angle` radians about a random axis, the body
// turned up to 0.5 rad from facing the camera, standing 3-5 m in front of it; a random shape.
inline BodyTrack random_track(const BodyModel& model, int id, int first_frame, int frames, std::uint32_t seed,
                              double max_angle = 0.6) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  auto random_rotation = [&](double max) {
    Eigen::Vector3d axis(normal(rng), normal(rng), normal(rng));
    return Eigen::Vector3d(axis.normalized() * max * std::abs(uniform(rng)));
  };
  BodyTrack track;
  track.id = id;
  track.first_frame = first_frame;
  track.shape = Eigen::VectorXd::NullaryExpr(model.num_shapes(), [&] { return normal(rng); });
  for (int f = 0; f < frames; ++f) {
    BodyPose pose;
    pose.pose = Eigen::VectorXd::Zero(3 * model.num_joints());
    for (int j = 1; j < model.num_joints(); ++j) pose.pose.segment<3>(3 * j) = random_rotation(max_angle);
    const Eigen::Matrix3d facing = Eigen::Vector3d(1, -1, -1).asDiagonal();  // upright, facing the camera
    pose.global_orient = matrix_to_axis_angle<double>(
        Eigen::Matrix3d(facing * axis_angle_to_matrix<double>(random_rotation(0.5))));
    pose.translation = Eigen::Vector3d(uniform(rng), 0.3 * uniform(rng), 4.0 + uniform(rng));
    track.poses.push_back(pose);
  }
  return track;
}

// The posed track at frame k as BodyPoser computes it.
inline BodyPose posed(const BodyTrack& track, std::size_t k) {
  BodyPose p = track.poses.at(k);
  p.shape = track.shape;
  return p;
}

}  // namespace monobody::test
