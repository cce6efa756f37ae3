// The fitter on synthetic people (a short version of `monobody fit --round-trip 50`) and on bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "monobody/body.hpp"
#include "monobody/error.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

TEST(BodyFit, SyntheticRoundTripExplainsTheImageAndRecoversTheBodyUpToScale) {
  MONOBODY_MODEL_FILE_OR_SKIP(path, "body/monobody_body_v1.bin");
  MONOBODY_SHARED_FILE_OR_SKIP(clip, "mocap/cmu/expmap_li2018/test/walking/walking_1.pos3d.npy");
  const BodyModel model = load_body_model(path);
  const auto poses = retarget_cmu_clip(model, clip, 1);
  ASSERT_GT(poses.size(), 50u);
  BodyRoundTripOptions options;
  options.trials = 3;
  const BodyRoundTripResult r = body_round_trip(model, poses, options);
  for (int i = 0; i < options.trials; ++i) {
    SCOPED_TRACE(i);
    // The fit explains the data: keypoints to about their 2 px noise (2.8 px rms in 2D), silhouettes overlap.
    EXPECT_LT(r.keypoint_rms_px[std::size_t(i)], 4.0);
    EXPECT_GT(r.silhouette_iou[std::size_t(i)], 0.85);
    // Up to the depth-size ambiguity the body is recovered to centimetres (50 synthetic people: mean 34 mm);
    // a fit stuck in a wrong pose or facing the wrong way is off by 100+ mm.
    EXPECT_LT(r.scaled_vertex_error_mm[std::size_t(i)], 80.0);
  }
}

// A person standing still in a video, seen with 3 px of fresh keypoint jitter in every frame: with the
// temporal term the fitted body trembles much less from frame to frame than with a warm start alone.
TEST(BodyFit, TemporalTermSteadiesAStillPersonInVideo) {
  MONOBODY_MODEL_FILE_OR_SKIP(path, "body/monobody_body_v1.bin");
  MONOBODY_SHARED_FILE_OR_SKIP(clip, "mocap/cmu/expmap_li2018/test/walking/walking_1.pos3d.npy");
  const BodyModel model = load_body_model(path);
  const BodyFitter fitter(model);
  BodyPose truth = BodyPose::zero(model);
  truth.pose = retarget_cmu_clip(model, clip, 1).at(40);
  truth.pose.head<3>().setZero();
  truth.global_orient = Eigen::Vector3d(M_PI, 0, 0);  // facing the camera, y down
  truth.translation = Eigen::Vector3d(0, 0, 4.0) - model.rest_joints(truth.shape).col(0);
  BodyPoser poser(model);
  poser.pose(truth);
  PinholeCamera<double> camera;
  camera.fx = camera.fy = 1000;
  camera.cx = camera.cy = 400;
  const Eigen::Matrix3Xd points = fitter.keypoints(poser, JointSet::BlazePose33);
  std::mt19937 rng(3);
  std::normal_distribution<double> jitter(0.0, 3.0);
  auto frame_keypoints = [&] {
    Keypoints2D kp = Keypoints2D::zeros(JointSet::BlazePose33);
    for (int i = 0; i < kp.size(); ++i) {
      if (!points.col(i).allFinite()) continue;
      kp.xy.col(i) = camera.project(Eigen::Vector3d(points.col(i))) + Eigen::Vector2d(jitter(rng), jitter(rng));
      kp.confidence[i] = 1.0;
    }
    return kp;
  };
  std::vector<Keypoints2D> frames;
  for (int f = 0; f < 8; ++f) frames.push_back(frame_keypoints());

  auto trembling_mm = [&](bool temporal) {  // mean joint motion between consecutive fitted frames
    BodyFitInput input;
    input.camera = camera;
    input.shape = &truth.shape;
    input.keypoints = &frames[0];
    BodyPose last = fitter.fit(input);
    BodyPoser fitted(model);
    fitted.pose(last);
    Eigen::Matrix3Xd last_joints = fitted.joints();
    double motion = 0;
    for (std::size_t f = 1; f < frames.size(); ++f) {
      input.keypoints = &frames[f];
      input.initial = &last;
      input.previous = temporal ? &last : nullptr;
      const BodyPose now = fitter.fit(input);
      fitted.pose(now);
      motion += 1000.0 * (fitted.joints() - last_joints).colwise().norm().mean() / double(frames.size() - 1);
      last_joints = fitted.joints();
      last = now;
    }
    return motion;
  };
  const double without = trembling_mm(false), with = trembling_mm(true);
  // Measured: 85 mm of motion per frame with a warm start alone, 38 mm with the temporal term.
  EXPECT_LT(with, 0.7 * without) << "warm start only " << without << " mm, temporal term " << with << " mm";
}

TEST(BodyFit, TooFewKeypointsIsAClearError) {
  MONOBODY_MODEL_FILE_OR_SKIP(path, "body/monobody_body_v1.bin");
  const BodyModel model = load_body_model(path);
  const BodyFitter fitter(model);
  Keypoints2D kp = Keypoints2D::zeros(JointSet::Coco17);
  for (int i = 0; i < 4; ++i) {
    kp.xy.col(i) << 100 + i, 100;
    kp.confidence[i] = 1.0;
  }
  BodyFitInput input;
  input.camera = default_camera(640, 480);
  input.keypoints = &kp;
  try {
    fitter.fit(input);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at least 6 keypoints"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace monobody
