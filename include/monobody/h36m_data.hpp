// Reading the Human3.6M data of the shared data folder (h36m/: world joints, Stacked-Hourglass detections,
// calibrated cameras; see its README). Used for training lifters and for the evaluation.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "monobody/camera.hpp"
#include "monobody/keypoints.hpp"
#include "monobody/npy.hpp"

namespace monobody {

inline constexpr int kH36mCameraCount = 4;
// The shared data keeps every 5th frame of Human3.6M's 50 Hz (its README).
inline constexpr double kH36mFrameRateHz = 10.0;

struct H36mCamera {
  std::string id;                    // "54138969", ...
  PinholeCamera<double> intrinsics;  // OpenCV distortion (Human3.6M's tangential form differs by < 0.5 px)
  CameraPose<double> pose;           // world -> camera, millimetres
  int width = 1000, height = 1000;
};

struct H36mSequence {
  std::string subject;               // "S1"
  std::string name;                  // "Directions_1": the file stem, action name plus take
  std::filesystem::path directory;   // h36m/<subject>
  bool gt_offset_suspect = false;    // the data README's flag: world 3D displaced from the videos by ~20 cm
  NpyArray<float> world;             // (T, 17, 3) world millimetres, z up, H36M-17 joints
  std::array<H36mCamera, kH36mCameraCount> cameras;

  int frame_count() const { return int(world.shape[0]); }
  // The Stacked-Hourglass detections of one camera: (T, 16, 2) pixels, MPII-16 order.
  NpyArray<float> detections(int camera) const;
  // One frame's joints (3 x 17): in world millimetres; in a camera's frame (millimetres, OpenCV axes);
  // projected to that camera's pixels.
  Eigen::Matrix3Xd world_joints(int frame) const;
  Eigen::Matrix3Xd camera_joints(int frame, int camera) const;
  Eigen::Matrix2Xd projected_joints(int frame, int camera) const;
};

// One frame of detections(camera) as MPII-16 keypoints (the file has no confidences: every joint gets 1).
Keypoints2D h36m_detection(const NpyArray<float>& detections, int frame);

// All sequences of the given subjects, in index.json order. Throws monobody::Error for a missing folder,
// an unknown subject or malformed files.
std::vector<H36mSequence> load_h36m(const std::filesystem::path& h36m_dir, const std::vector<std::string>& subjects);

}  // namespace monobody
