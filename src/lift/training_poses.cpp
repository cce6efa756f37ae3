// Training poses for dictionary learning: Human3.6M and CMU mocap mapped to H36M-17, and their normalisation.
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>

#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/lift.hpp"
#include "monobody/npy.hpp"

namespace monobody {
namespace fs = std::filesystem;
namespace {

Eigen::Vector3d point(const NpyArray<float>& a, std::int64_t frame, int joint) {
  return {a.at({frame, joint, 0}), a.at({frame, joint, 1}), a.at({frame, joint, 2})};
}

Eigen::Vector3d lerp(const Eigen::Vector3d& a, const Eigen::Vector3d& b, double t) { return a + t * (b - a); }

// Where H36M's spine, nose and head points lie relative to joints other skeletons have, as measured on the
// Stacked-Hourglass mapping (shared/data/h36m/README.md): the spine 0.575 of the way from the pelvis to the
// thorax; nose and head 0.275 and 0.6 of the way from the upper neck to the head top.
constexpr double kSpine = 0.575, kNose = 0.275, kHead = 0.6;

// The H36M-17 pose from pelvis, hips/knees/ankles, thorax, upper neck, head top and arms.
struct Landmarks {
  Eigen::Vector3d pelvis, r_hip, r_knee, r_ankle, l_hip, l_knee, l_ankle, thorax, upper_neck, head_top, l_shoulder,
      l_elbow, l_wrist, r_shoulder, r_elbow, r_wrist;
};

Eigen::Matrix3Xd h36m_pose(const Landmarks& p) {
  Eigen::Matrix3Xd s(3, 17);
  s.col(0) = p.pelvis;
  s.col(1) = p.r_hip, s.col(2) = p.r_knee, s.col(3) = p.r_ankle;
  s.col(4) = p.l_hip, s.col(5) = p.l_knee, s.col(6) = p.l_ankle;
  s.col(7) = lerp(p.pelvis, p.thorax, kSpine);
  s.col(8) = p.thorax;
  s.col(9) = lerp(p.upper_neck, p.head_top, kNose);
  s.col(10) = lerp(p.upper_neck, p.head_top, kHead);
  s.col(11) = p.l_shoulder, s.col(12) = p.l_elbow, s.col(13) = p.l_wrist;
  s.col(14) = p.r_shoulder, s.col(15) = p.r_elbow, s.col(16) = p.r_wrist;
  return s;
}

std::vector<fs::path> files_ending(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) throw Error("no folder " + dir.string());
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > suffix.size() && name.ends_with(suffix)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());  // a fixed order, so learning is reproducible
  return out;
}

}  // namespace

std::vector<Eigen::Matrix3Xd> load_h36m_poses(const fs::path& h36m_dir, const std::vector<std::string>& subjects,
                                              int step) {
  std::vector<Eigen::Matrix3Xd> poses;
  for (const std::string& subject : subjects) {
    const auto files = files_ending(h36m_dir / subject, ".pos3d_world.npy");
    if (files.empty()) throw Error("no Human3.6M poses for subject '" + subject + "' in " + h36m_dir.string());
    for (const auto& file : files) {
      const NpyArray<float> a = read_npy<float>(file);
      if (a.shape.size() != 3 || a.shape[1] != 17 || a.shape[2] != 3)
        throw Error(file.string() + ": expected shape (T, 17, 3)");
      for (std::int64_t f = 0; f < a.shape[0]; f += step) {
        Eigen::Matrix3Xd s(3, 17);
        for (int j = 0; j < 17; ++j) s.col(j) = point(a, f, j);
        poses.push_back(s);
      }
    }
  }
  return poses;
}

std::vector<Eigen::Matrix3Xd> load_cmu_poses(const fs::path& cmu_dir, int step) {
  std::vector<Eigen::Matrix3Xd> poses;
  // DeepMimic humanoid (18 points, mocap/cmu/README.md): the neck joint is the base of the neck; the head is a
  // sphere of radius 0.10 m centred 0.175 m above it, so the top of the head is 0.275 m up the neck-head line.
  for (const auto& file : files_ending(cmu_dir / "deepmimic" / "clips", ".pos3d.npy")) {
    const NpyArray<float> a = read_npy<float>(file);
    if (a.shape.size() != 3 || a.shape[1] != 18 || a.shape[2] != 3) throw Error(file.string() + ": expected (T, 18, 3)");
    for (std::int64_t f = 0; f < a.shape[0]; f += step) {
      Landmarks p;
      const Eigen::Vector3d neck = point(a, f, 2), head_centre = point(a, f, 15);
      p.pelvis = point(a, f, 0);
      p.r_hip = point(a, f, 3), p.r_knee = point(a, f, 4), p.r_ankle = point(a, f, 5);
      p.l_hip = point(a, f, 9), p.l_knee = point(a, f, 10), p.l_ankle = point(a, f, 11);
      p.thorax = neck;
      p.upper_neck = lerp(neck, head_centre, 0.35);
      p.head_top = lerp(neck, head_centre, 0.275 / 0.175);
      p.r_shoulder = point(a, f, 6), p.r_elbow = point(a, f, 7), p.r_wrist = point(a, f, 8);
      p.l_shoulder = point(a, f, 12), p.l_elbow = point(a, f, 13), p.l_wrist = point(a, f, 14);
      poses.push_back(h36m_pose(p));
    }
  }
  // Li et al.'s CMU skeleton (38 points, mocap/cmu/README.md).
  for (const auto& file : files_ending(cmu_dir / "expmap_li2018", ".pos3d.npy")) {
    const NpyArray<float> a = read_npy<float>(file);
    if (a.shape.size() != 3 || a.shape[1] != 38 || a.shape[2] != 3) throw Error(file.string() + ": expected (T, 38, 3)");
    for (std::int64_t f = 0; f < a.shape[0]; f += step) {
      Landmarks p;
      p.pelvis = point(a, f, 0);
      p.l_hip = point(a, f, 2), p.l_knee = point(a, f, 3), p.l_ankle = point(a, f, 4);
      p.r_hip = point(a, f, 8), p.r_knee = point(a, f, 9), p.r_ankle = point(a, f, 10);
      p.thorax = point(a, f, 17);
      p.upper_neck = point(a, f, 18), p.head_top = point(a, f, 19);
      p.l_shoulder = point(a, f, 21), p.l_elbow = point(a, f, 22), p.l_wrist = point(a, f, 23);
      p.r_shoulder = point(a, f, 30), p.r_elbow = point(a, f, 31), p.r_wrist = point(a, f, 32);
      poses.push_back(h36m_pose(p));
    }
  }
  if (poses.empty()) throw Error("no CMU mocap poses under " + cmu_dir.string());
  return poses;
}

Eigen::Matrix3Xd normalize_training_pose(const Eigen::Matrix3Xd& pose) {
  if (pose.cols() != 17 || !pose.allFinite()) throw Error("training pose: expected 17 finite joints");
  const double bones = mean_bone_length(pose, JointSet::H36m17);
  const Eigen::Vector3d up = pose.col(8) - pose.col(0);             // pelvis -> thorax
  const Eigen::Vector3d across = pose.col(4) - pose.col(1);         // right hip -> left hip
  const Eigen::Vector3d left = across - across.dot(up) / std::max(up.squaredNorm(), 1e-300) * up;
  if (!(bones > 0) || up.norm() < 1e-6 * bones || left.norm() < 1e-6 * bones)
    throw Error("training pose: degenerate torso");
  Eigen::Matrix3d R;  // rows: the canonical axes expressed in the pose's frame
  R.row(0) = left.normalized().transpose();
  R.row(1) = -up.normalized().transpose();
  R.row(2) = R.row(0).cross(R.row(1));
  Eigen::Matrix3Xd out = R * (pose.colwise() - pose.rowwise().mean()) / bones;
  return out;
}

}  // namespace monobody
