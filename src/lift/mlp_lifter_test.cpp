#include "monobody/mlp_lifter.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "monobody/error.hpp"
#include "monobody/h36m_data.hpp"
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
    for (const bool size : {false, true})
      for (const bool relations : {false, true}) {
        MlpLifterInputs layout;
        ASSERT_TRUE(MlpLifterInputs::from_count(MlpLifterInputs{d, size, relations}.count(), layout));
        EXPECT_EQ(layout.depth, d);
        EXPECT_EQ(layout.apparent_size, size);
        EXPECT_EQ(layout.relations, relations);
      }
  MlpLifterInputs layout;
  EXPECT_FALSE(MlpLifterInputs::from_count(35, layout));
  EXPECT_FALSE(MlpLifterInputs::from_count(55, layout));
  EXPECT_FALSE(MlpLifterInputs::from_count(kMlpLifterInputs + kMlpLifterRelationInputs - 1, layout));
}

TEST(MlpLifterFeatures, RelationsSayWhichPairAndWhichWay) {
  PinholeCamera<double> cam;
  cam.fx = cam.fy = 1000, cam.cx = 500, cam.cy = 500;
  const Eigen::Matrix2Xd px = sample_pixels();
  constexpr int n = MlpLifterInputs{false, true, true}.count();
  constexpr int first = n - kMlpLifterRelationInputs;
  static_assert(kMlpLifterRelationInputs == 272);  // 136 pairs
  float a[n], b[n], plain[kMlpLifterInputs + 1];
  // "Z(left knee) > Z(right knee)": H36M-17 left knee 5, right knee 2; the pair (2, 5) is the 16 + 15 + 2nd.
  const auto relations = parse_ordinal_relations("Z(left knee) > Z(right knee)\nZ(head) = Z(thorax)\n");
  ASSERT_TRUE(mlp_lifter_features(px, cam, a, nullptr, true, &relations));
  ASSERT_TRUE(mlp_lifter_features(px, cam, plain, nullptr, true));
  for (int i = 0; i < first; ++i) EXPECT_EQ(a[i], plain[i]) << i;  // the relations come last
  const int knees = 16 + 15 + (5 - 2 - 1), head_thorax = 8 * 17 - 8 * 9 / 2 + (10 - 8 - 1);
  for (int p = 0; p < 136; ++p) {
    const float known = a[first + 2 * p], sign = a[first + 2 * p + 1];
    if (p == knees) {
      EXPECT_EQ(known, 1.0f);
      EXPECT_EQ(sign, -1.0f);  // read as Z(right knee) < Z(left knee): the pair's first joint is nearer
    } else if (p == head_thorax) {
      EXPECT_EQ(known, 1.0f);
      EXPECT_EQ(sign, 0.0f);  // "="
    } else {
      EXPECT_EQ(known, 0.0f) << p;
      EXPECT_EQ(sign, 0.0f) << p;
    }
  }
  // The same statement the other way round reads the same.
  const auto reversed = parse_ordinal_relations("Z(right knee) < Z(left knee)\nZ(thorax) = Z(head)");
  ASSERT_TRUE(mlp_lifter_features(px, cam, b, nullptr, true, &reversed));
  for (int i = 0; i < n; ++i) EXPECT_EQ(a[i], b[i]) << i;
  // In the mirror image the left knee is the right one: the farther knee is now the pair's first joint.
  const auto mirrored = mirror_h36m_relations(relations);
  ASSERT_TRUE(mlp_lifter_features(px, cam, b, nullptr, true, &mirrored));
  EXPECT_EQ(b[first + 2 * knees + 1], 1.0f);
  EXPECT_EQ(b[first + 2 * head_thorax + 1], 0.0f);
  // A joint outside H36M-17 is refused, not written out of bounds.
  const std::vector<OrdinalRelation> bad = {{3, 17, OrdinalRelation::Order::Farther}};
  EXPECT_FALSE(mlp_lifter_features(px, cam, b, nullptr, true, &bad));
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

// An ensemble lifts to its members' average, each member reading the inputs it was trained on (here one reads
// relations and one does not), and its file names the members relative to itself.
TEST(MlpLifter, AnEnsembleAveragesItsMembers) {
  const MlpSpec plain{.inputs = MlpLifterInputs{false, true, false}.count(), .outputs = kMlpLifterOutputs,
                      .hidden = 32, .blocks = 1};
  MlpSpec reading = plain;
  reading.inputs = MlpLifterInputs{false, true, true}.count();
  MlpWeights a = MlpWeights::initialise(plain, 1), b = MlpWeights::initialise(reading, 2);
  // Initialised networks output their mean (zero): give each output layer weights of its own, and outputs of a
  // person's size (hundreds of mm), so that the tolerances below are small by comparison.
  for (MlpWeights* w : {&a, &b}) {
    Eigen::MatrixXf& out = w->layers.back().weight;
    for (Eigen::Index i = 0; i < out.size(); ++i) out.data()[i] = 0.3f * std::sin(0.37f * float(i) + float(w == &b));
    w->out_std.setConstant(300.0f);
  }
  const MlpLifter only_a(a), only_b(b), both(std::vector<MlpWeights>{a, b});
  EXPECT_EQ(both.member_count(), 2);
  EXPECT_TRUE(both.reads_relations());
  EXPECT_TRUE(both.uses_apparent_size());

  Keypoints2D kp = Keypoints2D::zeros(JointSet::H36m17);
  kp.xy = sample_pixels();
  kp.confidence.setOnes();
  PinholeCamera<double> cam;
  cam.fx = cam.fy = 1000, cam.cx = 500, cam.cy = 500;
  const std::vector<OrdinalRelation> relations = {{3, 6, OrdinalRelation::Order::Farther},
                                                  {13, 16, OrdinalRelation::Order::Nearer}};
  const Eigen::Matrix3Xd ja = only_a.lift_knowing(kp, &cam, relations).joints.xyz * 1000.0;
  const Eigen::Matrix3Xd jb = only_b.lift_knowing(kp, &cam, relations).joints.xyz * 1000.0;
  const Eigen::Matrix3Xd jab = both.lift_knowing(kp, &cam, relations).joints.xyz * 1000.0;
  ASSERT_GT((ja - jb).cwiseAbs().maxCoeff(), 10.0);  // two different networks, or the test proves nothing
  EXPECT_LT((jab - 0.5 * (ja + jb)).cwiseAbs().maxCoeff(), 1e-3);  // mm; float32 inference
  // The member that reads relations hears them through the ensemble.
  const Eigen::Matrix3Xd jab_without = both.lift(kp, &cam).joints.xyz * 1000.0;
  const Eigen::Matrix3Xd jb_without = only_b.lift(kp, &cam).joints.xyz * 1000.0;
  EXPECT_LT((jab_without - 0.5 * (ja + jb_without)).cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_GT((jab - jab_without).cwiseAbs().maxCoeff(), 1e-2);

  const auto dir = test::temp_dir("mlp_ensemble");
  save_mlp(dir / "a.mlp", a, WeightPrecision::Float32);
  save_mlp(dir / "b.mlp", b, WeightPrecision::Float32);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  const MlpLifter from_file(write("pair.json", R"({"format": "monobody-mlp-ensemble", "members": ["a.mlp", "b.mlp"]})"));
  EXPECT_TRUE(from_file.flip_average());
  EXPECT_LT((from_file.lift_knowing(kp, &cam, relations).joints.xyz * 1000.0 - jab).cwiseAbs().maxCoeff(), 1e-3);
  // The file may turn the mirror image off: then the members' plain average.
  const MlpLifter unflipped(write("plain.json", R"({"format": "monobody-mlp-ensemble", "members": ["a.mlp", "b.mlp"],
                                                    "flip_average": false})"));
  EXPECT_FALSE(unflipped.flip_average());
  const MlpLifter a_unflipped(a, {.flip_average = false}), b_unflipped(b, {.flip_average = false});
  const Eigen::Matrix3Xd expected = 0.5 * (a_unflipped.lift_knowing(kp, &cam, relations).joints.xyz +
                                           b_unflipped.lift_knowing(kp, &cam, relations).joints.xyz) * 1000.0;
  EXPECT_LT((unflipped.lift_knowing(kp, &cam, relations).joints.xyz * 1000.0 - expected).cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_GT((expected - jab).cwiseAbs().maxCoeff(), 1e-2);
  // Clear errors: not an ensemble, no members, a missing member, members that disagree on the 2D network's depths.
  EXPECT_THROW(MlpLifter(write("other.json", R"({"members": ["a.mlp"]})")), Error);
  EXPECT_THROW(MlpLifter(write("flip.json", R"({"format": "monobody-mlp-ensemble", "members": ["a.mlp"],
                                               "flip_average": "no"})")), Error);
  EXPECT_THROW(MlpLifter(write("empty.json", R"({"format": "monobody-mlp-ensemble", "members": []})")), Error);
  EXPECT_THROW(MlpLifter(write("missing.json", R"({"format": "monobody-mlp-ensemble", "members": ["a.mlp", "c.mlp"]})")),
               Error);
  MlpSpec with_depth = plain;
  with_depth.inputs = MlpLifterInputs{true, true, false}.count();
  EXPECT_THROW(MlpLifter(std::vector<MlpWeights>{a, MlpWeights::initialise(with_depth, 3)}), Error);
}

// What a benchmark network that reads ordinal relations does with 10 random true relations per pose (a simulated
// annotator), on real poses of the test subject S9 seen by its four cameras (every 100th frame, some 600 poses);
// the network alone, no refinement. Root-relative MPJPE in mm and the fraction of the relations honoured.
struct RelationGain {
  double p1_without = 0, p1_with = 0, honoured_without = 0, honoured_with = 0;
  long poses = 0;
};

RelationGain relation_gain(const std::filesystem::path& h36m, const std::string& model, bool detections) {
  const MlpLifter lifter(test::source_dir() / "models" / "lift-h36m" / model);
  EXPECT_TRUE(lifter.reads_relations());
  std::mt19937 rng(7);
  RelationGain g;
  for (const H36mSequence& s : load_h36m(h36m, {"S9"})) {
    for (int c = 0; c < kH36mCameraCount; ++c) {
      const H36mCamera& camera = s.cameras[std::size_t(c)];
      const NpyArray<float> det = detections ? s.detections(c) : NpyArray<float>{};
      for (int f = 0; f < s.frame_count(); f += 100) {
        Eigen::Matrix3Xd truth(3, 17);
        for (int j = 0; j < 17; ++j)
          truth.col(j) = camera.pose.to_camera(Eigen::Vector3d(s.world.at({f, j, 0}), s.world.at({f, j, 1}),
                                                               s.world.at({f, j, 2})));
        Keypoints2D kp = Keypoints2D::zeros(detections ? JointSet::Mpii16 : JointSet::H36m17);
        for (int j = 0; j < kp.size(); ++j) {
          if (detections) kp.xy.col(j) << det.at({f, j, 0}), det.at({f, j, 1});
          else kp.xy.col(j) = camera.intrinsics.project(truth.col(j));
        }
        kp.confidence.setOnes();
        const auto relations = simulate_relations(truth, 10, 100.0, rng);
        const Eigen::Matrix3Xd root_relative = truth.colwise() - truth.col(0);
        const Eigen::Matrix3Xd without = lifter.lift(kp, &camera.intrinsics).joints.xyz * 1000.0;
        const Eigen::Matrix3Xd with = lifter.lift_knowing(kp, &camera.intrinsics, relations).joints.xyz * 1000.0;
        g.p1_without += (without - root_relative).colwise().norm().mean();
        g.p1_with += (with - root_relative).colwise().norm().mean();
        // Honoured as the annotator means them: ">" by more than the 100 mm that "=" allows.
        for (const OrdinalRelation& r : relations) {
          g.honoured_without += ordinal_order(without(2, r.a), without(2, r.b), 100.0) == r.order;
          g.honoured_with += ordinal_order(with(2, r.a), with(2, r.b), 100.0) == r.order;
        }
        ++g.poses;
      }
    }
  }
  const double n = double(std::max(g.poses, 1L));
  g.p1_without /= n, g.p1_with /= n;
  g.honoured_without /= 10.0 * n, g.honoured_with /= 10.0 * n;
  return g;
}

// The network is accurate without relations (P1 below `max_p1_without` mm), at least `min_gain` more accurate with
// them, and honours at least 5 points more of them.
void expect_gain(const RelationGain& g, double max_p1_without, double min_gain) {
  ASSERT_GT(g.poses, 500);
  EXPECT_LT(g.p1_without, max_p1_without);
  EXPECT_LT(g.p1_with, (1.0 - min_gain) * g.p1_without) << "without " << g.p1_without << " mm, with " << g.p1_with << " mm";
  EXPECT_GT(g.honoured_with, g.honoured_without + 0.05);
}

// Ground-truth 2D. Measured: P1 42.1 -> 38.4 mm (-8.8 %), relations honoured 86.5 -> 92.0 %. Over some 600 poses
// the mean moves by well under a millimetre between samples of relations, so 5 % (2 mm) is what the model must
// give, with room for a retrained one's spread.
TEST(MlpLifter, TenTrueRelationsMakeTheNetworkMoreAccurate) {
  MONOBODY_SHARED_FILE_OR_SKIP(h36m, "h36m");
  expect_gain(relation_gain(h36m, "mlp-h36m-gt-relations.mlp", false), 50.0, 0.05);
}

// The benchmark ensemble for ground-truth 2D (two networks of one recipe, seeds 1 and 2, no mirror image) against
// each of its networks alone (with the mirror image, as they run by themselves), on the same poses. Measured, P1 in
// mm without and with the 10 relations: ensemble 40.9 / 37.9, seed 1 42.1 / 38.4, seed 2 43.0 / 39.1 (on all of S9,
// without relations: 41.7, 42.0, 42.8).
TEST(MlpLifter, TheBenchmarkEnsembleIsMoreAccurateThanEitherNetwork) {
  MONOBODY_SHARED_FILE_OR_SKIP(h36m, "h36m");
  const RelationGain both = relation_gain(h36m, "mlp-h36m-gt-ensemble.json", false);
  const RelationGain first = relation_gain(h36m, "mlp-h36m-gt-relations.mlp", false);
  const RelationGain second = relation_gain(h36m, "mlp-h36m-gt-relations-seed2.mlp", false);
  EXPECT_LT(both.p1_without, std::min(first.p1_without, second.p1_without));
  EXPECT_LT(both.p1_with, std::min(first.p1_with, second.p1_with));
  EXPECT_LT(both.p1_without, 42.0);  // issue 5's target for ground-truth 2D
}

// Stacked-Hourglass detections, where the network is less sure of depth and the relations weigh more. Measured:
// P1 74.9 -> 65.1 mm (-13.1 %), relations honoured 80.8 -> 93.7 %.
TEST(MlpLifter, TenTrueRelationsHelpMoreWithDetections) {
  MONOBODY_SHARED_FILE_OR_SKIP(h36m, "h36m");
  expect_gain(relation_gain(h36m, "mlp-h36m-sh-relations.mlp", true), 85.0, 0.08);
}

}  // namespace
}  // namespace monobody
