// The BVH writer against forward kinematics done from the file alone, by a small reader written for this test.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "export_test_support.hpp"
#include "monobody/error.hpp"
#include "monobody/export.hpp"
#include "monobody/files.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {
namespace fs = std::filesystem;

struct BvhJoint {
  std::string name;
  int parent = -1;
  Eigen::Vector3d offset = Eigen::Vector3d::Zero();
  std::vector<std::string> channels;
  bool has_end_site = false;
};
struct Bvh {
  std::vector<BvhJoint> joints;  // in file order
  int frames = 0;
  double frame_time = 0;
  std::vector<std::vector<double>> motion;
};

Bvh read_bvh(const fs::path& path) {
  std::istringstream in(read_text_file(path));
  Bvh bvh;
  std::string token;
  auto expect = [&](const std::string& what) {
    in >> token;
    if (token != what) throw Error("BVH: expected '" + what + "', got '" + token + "'");
  };
  expect("HIERARCHY");
  std::vector<int> stack;  // open joints; -2 marks an End Site
  while (in >> token && token != "MOTION") {
    if (token == "ROOT" || token == "JOINT") {
      BvhJoint j;
      in >> j.name;
      j.parent = stack.empty() ? -1 : stack.back();
      bvh.joints.push_back(j);
      expect("{");
      stack.push_back(int(bvh.joints.size()) - 1);
    } else if (token == "End") {
      expect("Site");
      expect("{");
      bvh.joints.at(std::size_t(stack.back())).has_end_site = true;
      stack.push_back(-2);
    } else if (token == "OFFSET") {
      Eigen::Vector3d o;
      in >> o.x() >> o.y() >> o.z();
      if (stack.back() >= 0) bvh.joints[std::size_t(stack.back())].offset = o;
    } else if (token == "CHANNELS") {
      int n = 0;
      in >> n;
      for (int c = 0; c < n; ++c) bvh.joints[std::size_t(stack.back())].channels.push_back((in >> token, token));
    } else if (token == "}") {
      stack.pop_back();
    } else {
      throw Error("BVH: unexpected '" + token + "'");
    }
  }
  EXPECT_TRUE(stack.empty());
  expect("Frames:");
  in >> bvh.frames;
  expect("Frame");
  expect("Time:");
  in >> bvh.frame_time;
  std::size_t channels = 0;
  for (const auto& j : bvh.joints) channels += j.channels.size();
  for (int f = 0; f < bvh.frames; ++f) {
    std::vector<double> values(channels);
    for (double& v : values)
      if (!(in >> v)) throw Error("BVH: motion too short");
    bvh.motion.push_back(values);
  }
  EXPECT_FALSE(in >> token) << "trailing data: " << token;
  return bvh;
}

// World positions of the joints at a frame: each joint is its parent's transform, then its offset plus any
// position channels, then its rotation channels applied in the listed order.
std::vector<Eigen::Vector3d> bvh_positions(const Bvh& bvh, int frame) {
  std::vector<Eigen::Affine3d> world(bvh.joints.size());
  std::vector<Eigen::Vector3d> positions;
  std::size_t next = 0;
  for (std::size_t j = 0; j < bvh.joints.size(); ++j) {
    const BvhJoint& joint = bvh.joints[j];
    Eigen::Vector3d translation = joint.offset;
    Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
    for (const std::string& c : joint.channels) {
      const double v = bvh.motion[std::size_t(frame)][next++];
      const int axis = c[0] - 'X';
      if (c.ends_with("position")) translation[axis] += v;
      else R = R * Eigen::AngleAxisd(v * M_PI / 180.0, Eigen::Vector3d::Unit(axis)).toRotationMatrix();
    }
    Eigen::Affine3d local = Eigen::Affine3d::Identity();
    local.translation() = translation;
    local.linear() = R;
    world[j] = joint.parent < 0 ? local : world[std::size_t(joint.parent)] * local;
    positions.push_back(world[j].translation());
  }
  return positions;
}

// Largest distance (m) over all joints and frames between the BVH's joints and BodyPoser's, in the export frame.
double max_joint_error(const BodyModel& model, const BodyTrack& track, const Bvh& bvh) {
  BodyPoser poser(model);
  double worst = 0;
  for (int f = 0; f < bvh.frames; ++f) {
    poser.pose(test::posed(track, std::size_t(f)));
    const std::vector<Eigen::Vector3d> positions = bvh_positions(bvh, f);
    for (std::size_t j = 0; j < bvh.joints.size(); ++j) {
      const int index = model.joint(bvh.joints[j].name);
      worst = std::max(worst, (positions[j] - test::export_from_camera() * poser.joints().col(index)).norm());
    }
  }
  return worst;
}

TEST(Bvh, RandomPosesRoundTripThroughTheFile) {
  const BodyModel& model = test::default_model();
  const BodyTrack track = test::random_track(model, 0, 0, 6, 42, 1.2);
  const fs::path path = test::temp_dir("bvh") / "person0.bvh";
  write_bvh(path, model, track, 25.0);
  const Bvh bvh = read_bvh(path);

  ASSERT_EQ(int(bvh.joints.size()), model.num_joints());
  EXPECT_EQ(bvh.frames, 6);
  EXPECT_NEAR(bvh.frame_time, 0.04, 1e-8);
  EXPECT_EQ(bvh.joints[0].name, model.joint_names[0]);
  EXPECT_EQ(bvh.joints[0].channels.size(), 6u);
  EXPECT_EQ(bvh.joints[0].channels[3], "Zrotation");
  int leaves = 0;
  for (const auto& j : bvh.joints) leaves += j.has_end_site;
  std::vector<int> children(std::size_t(model.num_joints()), 0);
  for (int j = 1; j < model.num_joints(); ++j) ++children[std::size_t(model.parents[std::size_t(j)])];
  EXPECT_EQ(leaves, int(std::count(children.begin(), children.end(), 0)));

  // The file holds 6 decimals (1 micrometre, 1e-6 degree); 0.1 mm leaves room for nothing but rounding.
  const double error = max_joint_error(model, track, bvh);
  EXPECT_LT(error, 1e-4);
  RecordProperty("max_joint_error_mm", std::to_string(error * 1000));
}

TEST(Bvh, MotionCaptureRoundTripsThroughTheFile) {
  MONOBODY_SHARED_FILE_OR_SKIP(clips, "mocap/cmu/expmap_li2018/test");
  fs::path clip;
  for (const auto& e : fs::recursive_directory_iterator(clips))
    if (e.path().string().ends_with(".pos3d.npy") && (clip.empty() || e.path() < clip)) clip = e.path();
  ASSERT_FALSE(clip.empty());
  const BodyModel& model = test::default_model();
  const std::vector<Eigen::VectorXd> poses = retarget_cmu_clip(model, clip, 10);
  ASSERT_GE(poses.size(), 5u);
  BodyTrack track = test::random_track(model, 0, 0, 1, 3);
  track.poses.clear();
  for (std::size_t k = 0; k < 20 && k < poses.size(); ++k) {
    BodyPose p;
    p.pose = poses[k];
    // The clip's root rotation, seen by a camera in front of the subject, 4 m away.
    p.global_orient = matrix_to_axis_angle<double>(Eigen::Matrix3d(
        test::export_from_camera() * axis_angle_to_matrix<double>(Eigen::Vector3d(poses[k].head<3>()))));
    p.translation = Eigen::Vector3d(0, 0, 4);
    track.poses.push_back(p);
  }
  const fs::path path = test::temp_dir("bvh_mocap") / "clip.bvh";
  write_bvh(path, model, track, 12.0);
  const Bvh bvh = read_bvh(path);
  EXPECT_EQ(bvh.frames, int(track.poses.size()));
  EXPECT_LT(max_joint_error(model, track, bvh), 1e-4);
}

TEST(Bvh, RejectsEmptyAndMismatchedTracks) {
  const BodyModel& model = test::default_model();
  const fs::path dir = test::temp_dir("bvh_bad");
  BodyTrack empty = test::random_track(model, 0, 0, 1, 1);
  empty.poses.clear();
  EXPECT_THROW(write_bvh(dir / "a.bvh", model, empty, 30), Error);
  BodyTrack wrong = test::random_track(model, 0, 0, 2, 1);
  wrong.poses[1].pose.resize(9);
  EXPECT_THROW(write_bvh(dir / "b.bvh", model, wrong, 30), Error);
  EXPECT_THROW(write_bvh(dir / "c.bvh", model, test::random_track(model, 0, 0, 1, 1), 0.0), Error);
  EXPECT_FALSE(fs::exists(dir / "a.bvh") || fs::exists(dir / "b.bvh") || fs::exists(dir / "c.bvh"));
}

}  // namespace
}  // namespace monobody
