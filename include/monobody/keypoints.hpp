// 2D keypoints and 3D joints of one person, with per-joint confidence.
//
// Conventions: 2D in pixels as in OpenCV (the centre of pixel (0, 0) is at (0, 0), x right, y down).
// 3D in metres in the camera frame (x right, y down, z forward) unless a field says otherwise.
// A joint with confidence <= 0 or a non-finite coordinate is "missing" and is ignored by every stage.
#pragma once

#include <Eigen/Core>

#include "monobody/skeleton.hpp"

namespace monobody {

// One joint's 2D likelihood as weighted samples (e.g. the cells of a 2D network's heatmap above a floor, with
// their probabilities), in pixels unless said otherwise. No samples: the joint is not seen.
struct KeypointHeatmap {
  Eigen::Matrix2Xd points;
  Eigen::VectorXd weights;  // >= 0, any scale
};

struct Keypoints2D {
  JointSet joint_set = JointSet::H36m17;
  Eigen::Matrix2Xd xy;          // 2 x J pixels
  Eigen::VectorXd confidence;   // J, in [0, 1]
  // J relative depths from the 2D network, or empty when it has none: pixels on the same scale as xy
  // (BlazePose's z times the image width), relative to the hips, larger = farther from the camera.
  Eigen::VectorXd depth;

  static Keypoints2D zeros(JointSet set);
  int size() const { return int(xy.cols()); }
  bool valid(int j) const;
  int count_valid() const;
};

struct Joints3D {
  JointSet joint_set = JointSet::H36m17;
  Eigen::Matrix3Xd xyz;         // 3 x J
  Eigen::VectorXd confidence;   // J, in [0, 1]

  static Joints3D zeros(JointSet set);
  int size() const { return int(xyz.cols()); }
  bool valid(int j) const;
};

// Re-expresses keypoints in another joint set through joint_mapping(). A derived joint's confidence is the
// smallest confidence of the joints it is made from. Throws monobody::Error when no mapping exists.
Keypoints2D map_joints(const Keypoints2D& keypoints, JointSet to);
Joints3D map_joints(const Joints3D& joints, JointSet to);

}  // namespace monobody
