// What the BVH and glTF writers share: the frame change from the camera frame to the y-up export frame and
// the checks of a track against its model.
#pragma once

#include <Eigen/Core>

#include "monobody/body.hpp"
#include "monobody/export.hpp"

namespace monobody::detail {

// The camera frame turned 180 degrees about x: (x, y, z) -> (x, -y, -z). Its own inverse.
inline Eigen::Matrix3d camera_to_export() { return Eigen::Vector3d(1, -1, -1).asDiagonal(); }

// The root joint's rotation and position in the export frame for one pose of a track whose rest joints
// (model frame, track's shape) are `rest_joints`.
inline Eigen::Matrix3d export_root_rotation(const BodyPose& pose) {
  return camera_to_export() * axis_angle_to_matrix<double>(pose.global_orient);
}
inline Eigen::Vector3d export_root_position(const Eigen::Matrix3Xd& rest_joints, const BodyPose& pose) {
  return camera_to_export() * (rest_joints.col(0) + pose.translation);
}

// Throws monobody::Error when the track has no poses, its sizes disagree with the model or fps is unusable.
void check_track(const BodyModel& model, const BodyTrack& track);
void check_fps(double fps);

}  // namespace monobody::detail
