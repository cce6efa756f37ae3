#include "monobody/mlp_lifter.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "monobody/error.hpp"
#include "monobody/mlp_lifter_train.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

Eigen::Matrix2Xd sample_pixels() {
  // A standing person, roughly, in a 1000 x 1000 image.
  Eigen::Matrix2Xd px(2, 17);
  px << 500, 470, 472, 474, 530, 528, 526, 500, 500, 500, 500, 540, 560, 570, 460, 440, 430,  //
      500, 500, 600, 700, 500, 600, 700, 440, 380, 360, 330, 385, 440, 490, 385, 440, 490;
  return px;
}

TEST(MlpLifterFeatures, AreScaleInvariantAndMirrorCorrectly) {
  PinholeCamera<double> cam;
  cam.fx = cam.fy = 1000, cam.cx = 500, cam.cy = 500;
  const Eigen::Matrix2Xd px = sample_pixels();
  float a[kMlpLifterInputs], b[kMlpLifterInputs], m[kMlpLifterInputs];
  ASSERT_TRUE(mlp_lifter_features(px, cam, a));
  // The same person twice as large around the pelvis (closer to the camera): same shape features.
  const Eigen::Matrix2Xd bigger = (2.0 * (px.colwise() - px.col(0))).colwise() + px.col(0);
  ASSERT_TRUE(mlp_lifter_features(bigger, cam, b));
  for (int i = 0; i < 34; ++i) EXPECT_NEAR(a[i], b[i], 1e-6);
  // The mirror image: x negated with left and right swapped (left hip 4 <-> right hip 1).
  ASSERT_TRUE(mlp_lifter_features(mirror_h36m_pixels(px, cam.cx), cam, m));
  EXPECT_NEAR(m[2 * 1], -a[2 * 4], 1e-6);
  EXPECT_NEAR(m[2 * 1 + 1], a[2 * 4 + 1], 1e-6);
  EXPECT_NEAR(m[34], -a[34], 1e-6);
  // Degenerate input is refused.
  EXPECT_FALSE(mlp_lifter_features(Eigen::Matrix2Xd::Constant(2, 17, 3.0), cam, a));
  Eigen::Matrix2Xd nan = px;
  nan(0, 5) = std::nan("");
  EXPECT_FALSE(mlp_lifter_features(nan, cam, a));
}

TEST(MlpLifterFeatures, DepthsAreInTheUnitsOfThe2D) {
  PinholeCamera<double> cam;
  cam.fx = cam.fy = 1000, cam.cx = 500, cam.cy = 500;
  const Eigen::Matrix2Xd px = sample_pixels();
  Eigen::VectorXd depth = Eigen::VectorXd::LinSpaced(17, 0.0, 160.0);  // pixels, as BlazePose z * width
  float a[kMlpLifterInputsWithDepth], b[kMlpLifterInputsWithDepth];
  ASSERT_TRUE(mlp_lifter_features(px, cam, a, &depth));
  // Doubling the person's image size and its depths together leaves every feature as it was.
  const Eigen::Matrix2Xd bigger = (2.0 * (px.colwise() - px.col(0))).colwise() + px.col(0);
  const Eigen::VectorXd deeper = 2.0 * depth;
  ASSERT_TRUE(mlp_lifter_features(bigger, cam, b, &deeper));
  for (int i = 0; i < kMlpLifterInputsWithDepth; ++i) {
    if (i == 34 || i == 35) continue;  // the pelvis position in the view does change
    EXPECT_NEAR(a[i], b[i], 1e-6) << i;
  }
  // A depth of one RMS radius reads as 1.
  double rms = 0;
  for (int j = 1; j < 17; ++j) rms += (px.col(j) - px.col(0)).squaredNorm();
  rms = std::sqrt(rms / 16);
  depth.setZero();
  depth[5] = rms;
  ASSERT_TRUE(mlp_lifter_features(px, cam, a, &depth));
  EXPECT_NEAR(a[kMlpLifterInputs + 5], 1.0, 1e-6);
  EXPECT_NEAR(a[kMlpLifterInputs + 4], 0.0, 1e-9);
}

TEST(MlpLifterFeatures, ApparentSizeComesLastAndTellsTheDistance) {
  PinholeCamera<double> cam;
  cam.fx = cam.fy = 1000, cam.cx = 500, cam.cy = 500;
  const Eigen::Matrix2Xd px = sample_pixels();
  const Eigen::VectorXd depth = Eigen::VectorXd::LinSpaced(17, 0.0, 160.0);
  constexpr int n = MlpLifterInputs{true, true}.count();
  static_assert(n == kMlpLifterInputsWithDepth + 1);
  float a[n], b[n], plain[kMlpLifterInputsWithDepth];
  ASSERT_TRUE(mlp_lifter_features(px, cam, a, &depth, true));
  ASSERT_TRUE(mlp_lifter_features(px, cam, plain, &depth));
  for (int i = 0; i < kMlpLifterInputsWithDepth; ++i) EXPECT_EQ(a[i], plain[i]) << i;  // same layout before it
  // The person at half the distance looks twice as large: the size feature (a log) goes up by log 2.
  const Eigen::Matrix2Xd bigger = (2.0 * (px.colwise() - px.col(0))).colwise() + px.col(0);
  const Eigen::VectorXd deeper = 2.0 * depth;
  ASSERT_TRUE(mlp_lifter_features(bigger, cam, b, &deeper, true));
  EXPECT_NEAR(b[n - 1] - a[n - 1], std::log(2.0), 1e-6);
  // RMS radius 100 px at a focal length of 1000 px: 0.1 normalised units.
  double rms = 0;
  for (int j = 1; j < 17; ++j) rms += (px.col(j) - px.col(0)).squaredNorm();
  rms = std::sqrt(rms / 16);
  EXPECT_NEAR(a[n - 1], std::log(rms / 1000.0), 1e-6);
  // Every layout is known by its input count, and no other count is.
  for (const bool d : {false, true})
    for (const bool size : {false, true}) {
      MlpLifterInputs layout;
      ASSERT_TRUE(MlpLifterInputs::from_count(MlpLifterInputs{d, size}.count(), layout));
      EXPECT_EQ(layout.depth, d);
      EXPECT_EQ(layout.apparent_size, size);
    }
  MlpLifterInputs layout;
  EXPECT_FALSE(MlpLifterInputs::from_count(35, layout));
  EXPECT_FALSE(MlpLifterInputs::from_count(55, layout));
}

TEST(MlpLifterTraining, ShortRunLearnsToLiftHuman36m) {
  MONOBODY_SHARED_FILE_OR_SKIP(h36m, "h36m");
  MlpLifterTrainOptions o;
  o.h36m_dir = h36m;
  o.h36m_subjects = {"S1"};
  o.validation_stride = 40;
  o.noise = LifterNoise::None;
  o.virtual_camera_fraction = 0.0;
  o.hidden = 128;
  o.blocks = 1;
  o.epochs = 3;
  o.samples_per_epoch = 25600;
  o.learning_rate = 2e-3f;
  o.threads = 1;
  o.apparent_size = true;  // the benchmark layout; the default models (tested through the CLI) use the base one
  std::vector<MlpLifterEpoch> epochs;
  const MlpWeights w = train_mlp_lifter(o, {}, [&](const MlpLifterEpoch& e, const MlpWeights&) { epochs.push_back(e); });
  ASSERT_EQ(epochs.size(), 4u);  // epoch 0 (untrained) and three of training
  EXPECT_LT(epochs[3].train_loss, epochs[1].train_loss);
  // Epoch 0 predicts the mean pose; a network that learned anything from S1 lifts S9 clearly better.
  const double mean_pose = epochs[0].validation_p1_mm;
  EXPECT_GT(mean_pose, 100.0);
  EXPECT_LT(epochs.back().validation_p1_mm, 0.8 * mean_pose) << "mean pose " << mean_pose;
  EXPECT_EQ(w.metadata["h36m_subjects"][0], "S1");

  // The runtime lifter gives the same answer as the training code's validation path for one pose.
  const MlpLifter lifter(w, {.flip_average = false});
  Keypoints2D kp = Keypoints2D::zeros(JointSet::H36m17);
  kp.xy = sample_pixels();
  kp.confidence.setOnes();
  PinholeCamera<double> cam;
  cam.fx = cam.fy = 1000, cam.cx = 500, cam.cy = 500;
  const Joints3D j = lifter.lift(kp, &cam).joints;
  EXPECT_EQ(j.xyz.col(0), Eigen::Vector3d::Zero());
  // Metric output: a person's ankles are roughly 0.7-1.1 m below the pelvis... in the camera's y (down).
  EXPECT_GT(j.xyz(1, 3), 0.5);
  EXPECT_LT(j.xyz(1, 3), 1.2);
  EXPECT_THROW(lifter.lift(Keypoints2D::zeros(JointSet::H36m17), &cam), Error);
  // The size input means nothing without the real intrinsics: refused rather than guessed.
  EXPECT_EQ(w.spec.inputs, kMlpLifterInputs + 1);
  ASSERT_TRUE(lifter.uses_apparent_size());
  EXPECT_THROW(lifter.lift(kp, nullptr), Error);
}

}  // namespace
}  // namespace monobody
