#include "monobody/camera.hpp"

#include <ceres/jet.h>
#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <opencv2/calib3d.hpp>
#include <random>

#include "monobody/files.hpp"
#include "monobody/keypoints.hpp"
#include "monobody/npy.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

// A lens with the distortion of Human3.6M's camera 1 (subject 1), strong enough to matter at the edges.
PinholeCamera<double> h36m_like_camera() {
  PinholeCamera<double> c;
  c.fx = 1145.05, c.fy = 1143.78, c.cx = 512.54, c.cy = 515.45;
  c.distortion = {-0.2071, 0.2478, -0.00142, -0.00098, -0.00308};
  return c;
}

TEST(PinholeCamera, ProjectUnprojectRoundTripWithDistortion) {
  const PinholeCamera<double> cam = h36m_like_camera();
  double worst = 0;
  for (double u = 0; u <= 1000; u += 50) {
    for (double v = 0; v <= 1000; v += 50) {
      const Eigen::Vector2d uv(u, v);
      const Eigen::Vector3d X = cam.unproject(uv, 4.5);
      EXPECT_DOUBLE_EQ(X.z(), 4.5);
      worst = std::max(worst, (cam.project(X) - uv).norm());
    }
  }
  // Fixed-point undistortion converges to well below a thousandth of a pixel over the whole image.
  EXPECT_LT(worst, 1e-3);
}

TEST(PinholeCamera, MatchesOpenCvProjectPoints) {
  const PinholeCamera<double> cam = h36m_like_camera();
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> xy(-1.5, 1.5), z(2.0, 8.0);
  std::vector<cv::Point3d> points;
  for (int i = 0; i < 200; ++i) points.emplace_back(xy(rng), xy(rng), z(rng));
  const cv::Matx33d K(cam.fx, 0, cam.cx, 0, cam.fy, cam.cy, 0, 0, 1);
  const std::vector<double> dist = {cam.distortion.k1, cam.distortion.k2, cam.distortion.p1, cam.distortion.p2,
                                    cam.distortion.k3};
  std::vector<cv::Point2d> expected;
  cv::projectPoints(points, cv::Vec3d(0, 0, 0), cv::Vec3d(0, 0, 0), K, dist, expected);
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Eigen::Vector2d uv = cam.project(Eigen::Vector3d(points[i].x, points[i].y, points[i].z));
    EXPECT_NEAR(uv.x(), expected[i].x, 1e-6);
    EXPECT_NEAR(uv.y(), expected[i].y, 1e-6);
  }
}

TEST(PinholeCamera, WorksWithCeresJetsAndGivesTheRightDerivative) {
  using Jet = ceres::Jet<double, 3>;
  const PinholeCamera<Jet> cam = h36m_like_camera().cast<Jet>();
  const Eigen::Vector3d X0(0.3, -0.4, 3.0);
  Eigen::Matrix<Jet, 3, 1> X;
  for (int i = 0; i < 3; ++i) X[i] = Jet(X0[i], i);
  const Eigen::Matrix<Jet, 2, 1> uv = cam.project(X);
  const PinholeCamera<double> plain = h36m_like_camera();
  for (int i = 0; i < 3; ++i) {
    const double h = 1e-6;
    Eigen::Vector3d Xp = X0, Xm = X0;
    Xp[i] += h, Xm[i] -= h;
    const Eigen::Vector2d numeric = (plain.project(Xp) - plain.project(Xm)) / (2 * h);
    EXPECT_NEAR(uv.x().v[i], numeric.x(), 1e-4);
    EXPECT_NEAR(uv.y().v[i], numeric.y(), 1e-4);
  }
}

TEST(WeakPerspectiveCamera, ScalesAndTranslates) {
  WeakPerspectiveCamera<double> cam{2.0, {10.0, -5.0}};
  EXPECT_EQ(cam.project({1.0, 2.0, 100.0}), Eigen::Vector2d(12.0, -1.0));
}

TEST(CameraPose, WorldToCameraAndBack) {
  CameraPose<double> pose;
  pose.R = Eigen::AngleAxisd(0.7, Eigen::Vector3d(1, 2, 3).normalized()).toRotationMatrix();
  pose.t = {0.1, -0.2, 5.0};
  const Eigen::Vector3d X(1, 2, 3);
  EXPECT_LT((pose.to_world(pose.to_camera(X)) - X).norm(), 1e-12);
}

// Real data: Human3.6M's world joints projected with its calibrated cameras land on the Stacked-Hourglass
// detections of the same frames, once those are mapped from MPII-16 to H36M-17. This checks the camera
// model, the world-to-camera convention and the MPII -> H36M mapping together.
TEST(PinholeCamera, ProjectsHuman36mGroundTruthOntoTheDetections) {
  MONOBODY_SHARED_FILE_OR_SKIP(cameras_path, "h36m/cameras.json");
  MONOBODY_SHARED_FILE_OR_SKIP(pose_path, "h36m/S1/Walking.pos3d_world.npy");
  MONOBODY_SHARED_FILE_OR_SKIP(sh_path, "h36m/S1/Walking.54138969.sh2d.npy");
  const nlohmann::json cj = read_json_file(cameras_path)["cameras"]["S1"]["54138969"];
  PinholeCamera<double> cam;
  cam.fx = cj["f"][0], cam.fy = cj["f"][1], cam.cx = cj["c"][0], cam.cy = cj["c"][1];
  cam.distortion = {cj["k"][0], cj["k"][1], cj["p"][0], cj["p"][1], cj["k"][2]};
  CameraPose<double> pose;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) pose.R(r, c) = cj["R"][r][c];
  for (int r = 0; r < 3; ++r) pose.t[r] = cj["t"][r];

  const auto world = read_npy<double>(pose_path);
  const auto sh = read_npy<double>(sh_path);
  ASSERT_EQ(world.shape[0], sh.shape[0]);
  ASSERT_EQ(world.shape[1], 17);
  ASSERT_EQ(sh.shape[1], 16);
  std::vector<std::vector<double>> err(17);
  for (std::int64_t t = 0; t < world.shape[0]; ++t) {
    Keypoints2D mpii = Keypoints2D::zeros(JointSet::Mpii16);
    for (int j = 0; j < 16; ++j) {
      mpii.xy.col(j) << sh.at({t, j, 0}), sh.at({t, j, 1});
      mpii.confidence[j] = 1.0;
    }
    const Keypoints2D det = map_joints(mpii, JointSet::H36m17);
    for (int j = 0; j < 17; ++j) {
      const Eigen::Vector3d Xw(world.at({t, j, 0}), world.at({t, j, 1}), world.at({t, j, 2}));
      err[j].push_back((cam.project(pose.to_camera(Xw)) - det.xy.col(j)).norm());
    }
  }
  for (int j = 0; j < 17; ++j) {
    std::nth_element(err[j].begin(), err[j].begin() + err[j].size() / 2, err[j].end());
    const double median = err[j][err[j].size() / 2];
    // The shared data's README measures 4.5-12.8 px medians per joint over all training subjects; a wrong
    // rotation convention is ~590 px off and a wrong joint pairing 14-40 px.
    EXPECT_LT(median, 15.0) << skeleton(JointSet::H36m17).joints[j];
  }
}

}  // namespace
}  // namespace monobody
