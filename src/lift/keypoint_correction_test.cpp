#include "monobody/keypoint_correction.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/h36m_data.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

// A standing person in MPII-16 order (pixels), jittered joint by joint and placed at random size and position.
Keypoints2D random_mpii_person(std::mt19937& rng) {
  std::normal_distribution<double> jitter(0.0, 12.0);
  std::uniform_real_distribution<double> scale(0.5, 2.0), shift(-300.0, 300.0);
  Eigen::Matrix2Xd px(2, 16);
  px << 470, 472, 474, 526, 528, 530, 500, 500, 500, 500, 430, 440, 460, 540, 560, 570,  //
      700, 600, 500, 500, 600, 700, 500, 385, 360, 330, 490, 440, 385, 385, 440, 490;
  Keypoints2D kp = Keypoints2D::zeros(JointSet::Mpii16);
  const double s = scale(rng);
  const Eigen::Vector2d t(shift(rng), shift(rng));
  for (int j = 0; j < 16; ++j) kp.xy.col(j) = s * (px.col(j) + Eigen::Vector2d(jitter(rng), jitter(rng))) + t;
  kp.confidence.setOnes();
  return kp;
}

TEST(KeypointCorrection, LearnsAnExactLinearRuleWhateverThePersonsSizeAndPlace) {
  // Truth made from the detections by the fixed MPII -> H36M mapping (linear and left-right symmetric):
  // either kind of map must find that rule (the quadratic one with its products unused), with no residual.
  for (const bool quadratic : {false, true}) {
    SCOPED_TRACE(quadratic ? "quadratic" : "linear");
    std::mt19937 rng(3);
    KeypointCorrectionLearner learner(JointSet::Mpii16, JointSet::H36m17, quadratic);
    for (int n = 0; n < 700; ++n) {
      const Keypoints2D detected = random_mpii_person(rng);
      ASSERT_TRUE(learner.add(detected, map_joints(detected, JointSet::H36m17)));
    }
    EXPECT_EQ(learner.samples(), 700);
    const KeypointCorrection correction = learner.solve(1e-12);
    EXPECT_EQ(correction.quadratic, quadratic);
    EXPECT_EQ(correction.map.cols(), quadratic ? 561 : 33);
    EXPECT_LT(correction.sigma.maxCoeff(), 1e-6);
    for (int n = 0; n < 5; ++n) {
      const Keypoints2D detected = random_mpii_person(rng);
      const Keypoints2D corrected = correction.apply(detected), expected = map_joints(detected, JointSet::H36m17);
      ASSERT_EQ(corrected.joint_set, JointSet::H36m17);
      EXPECT_LT((corrected.xy - expected.xy).cwiseAbs().maxCoeff(), 1e-5);
      EXPECT_EQ(corrected.confidence.minCoeff(), 1.0);
    }
  }
}

TEST(KeypointCorrection, FallsBackToTheFixedMappingForAPartlySeenPerson) {
  std::mt19937 rng(4);
  KeypointCorrectionLearner learner(JointSet::Mpii16, JointSet::H36m17, false);
  // A rule the fixed mapping does not know: every joint 5 % of the radius lower.
  for (int n = 0; n < 100; ++n) {
    const Keypoints2D detected = random_mpii_person(rng);
    Keypoints2D truth = map_joints(detected, JointSet::H36m17);
    const double radius = std::sqrt((detected.xy.colwise() - detected.xy.rowwise().mean()).colwise().squaredNorm().mean());
    truth.xy.row(1).array() += 0.05 * radius;
    learner.add(detected, truth);
  }
  const KeypointCorrection correction = learner.solve();
  Keypoints2D detected = random_mpii_person(rng);
  detected.confidence[15] = 0.6;
  EXPECT_GT((correction.apply(detected).xy - map_joints(detected, JointSet::H36m17).xy).norm(), 1.0);
  EXPECT_DOUBLE_EQ(correction.apply(detected).confidence.maxCoeff(), 0.6);  // the least confident joint's
  // A wrist not seen: the fixed mapping, with the detector's confidences.
  detected.confidence[15] = 0.0;
  const Keypoints2D corrected = correction.apply(detected), fixed = map_joints(detected, JointSet::H36m17);
  for (int j = 0; j < corrected.size(); ++j) {
    EXPECT_EQ(corrected.confidence[j], fixed.confidence[j]);
    if (fixed.valid(j)) {
      EXPECT_EQ(corrected.xy.col(j), fixed.xy.col(j));
    }
  }
  // Other joint sets are refused, pairs with a missing joint skipped.
  EXPECT_THROW(correction.apply(Keypoints2D::zeros(JointSet::Coco17)), Error);
  EXPECT_FALSE(learner.add(detected, map_joints(detected, JointSet::H36m17)));
  EXPECT_THROW(KeypointCorrectionLearner(JointSet::Mpii16, JointSet::H36m17).solve(), Error);
}

TEST(KeypointCorrection, FileRoundTripAndBadFilesGiveClearErrors) {
  std::mt19937 rng(5);
  KeypointCorrectionLearner learner(JointSet::Mpii16, JointSet::H36m17);  // quadratic
  for (int n = 0; n < 600; ++n) {
    const Keypoints2D detected = random_mpii_person(rng);
    learner.add(detected, map_joints(random_mpii_person(rng), JointSet::H36m17));  // a residual to report
  }
  const KeypointCorrection c = learner.solve();
  const auto dir = test::temp_dir("keypoint_correction");
  write_keypoint_correction(dir / "c.json", c);
  const KeypointCorrection back = read_keypoint_correction(dir / "c.json");
  EXPECT_EQ(back.from, c.from);
  EXPECT_EQ(back.to, c.to);
  EXPECT_EQ(back.samples, 600);
  EXPECT_TRUE(back.quadratic);
  EXPECT_LT((back.map - c.map).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LT((back.sigma - c.sigma).cwiseAbs().maxCoeff(), 1e-12);

  const std::string good = test::slurp(dir / "c.json");
  auto bad = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    try {
      read_keypoint_correction(dir / name);
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  };
  bad("not-json.json", "{\"format\": ");
  bad("format.json", R"({"format": "monobody-mlp-ensemble"})");
  bad("rows.json", R"({"format": "monobody-keypoint-correction", "version": 1, "from": "mpii16", "to": "h36m17",
                       "features": "linear", "map": [[1, 2]], "sigma": [1]})");
  bad("joint-set.json", R"({"format": "monobody-keypoint-correction", "version": 1, "from": "smpl24", "to": "h36m17",
                            "features": "linear", "map": [], "sigma": []})");
  nlohmann::json j = nlohmann::json::parse(good);
  j["map"][0][0] = nullptr;  // what a NaN becomes in JSON
  bad("null.json", j.dump());
  j = nlohmann::json::parse(good);
  j["sigma"][3] = 0.0;
  bad("sigma.json", j.dump());
  j = nlohmann::json::parse(good);
  j["features"] = "linear";  // a quadratic map read as a linear one: the rows are too long
  bad("features.json", j.dump());
  j["features"] = "cubic";
  bad("cubic.json", j.dump());
  EXPECT_THROW(read_keypoint_correction(dir / "missing.json"), Error);
}

TEST(KeypointCorrection, ANetworkLearnsABentRuleAndSurvivesItsFile) {
  // A rule no linear map can follow: the fixed mapping, with the pelvis lifted by 10 % of the radius times z^2,
  // where z is the wrists' horizontal spread (in radii) standardised over these random people (about N(0, 1):
  // the template's spread is 1.2 radii, the jitter's 0.145). The network must learn it from 3,000 people much
  // better than the linear least-squares map can.
  auto rule = [](const Keypoints2D& detected) {
    Keypoints2D truth = map_joints(detected, JointSet::H36m17);
    const Eigen::Vector2d c = detected.xy.rowwise().mean();
    const double r = std::sqrt((detected.xy.colwise() - c).colwise().squaredNorm().mean());
    const double z = ((detected.xy(0, 15) - detected.xy(0, 10)) / r - 1.2) / 0.145;
    truth.xy(1, 0) -= 0.1 * r * z * z;
    return truth;
  };
  std::mt19937 rng(6);
  KeypointCorrectionNetworkLearner network_learner(JointSet::Mpii16, JointSet::H36m17);
  KeypointCorrectionLearner linear_learner(JointSet::Mpii16, JointSet::H36m17, false);
  for (int n = 0; n < 3000; ++n) {
    const Keypoints2D detected = random_mpii_person(rng);
    ASSERT_TRUE(network_learner.add(detected, rule(detected)));
    linear_learner.add(detected, rule(detected));
  }
  const KeypointCorrection net = network_learner.train({.hidden = 64, .blocks = 1, .epochs = 30, .batch = 64, .dropout = 0.0f});
  const KeypointCorrection linear = linear_learner.solve();
  ASSERT_EQ(net.networks.size(), 1u);
  EXPECT_EQ(net.samples, 3000);
  // The pelvis error relative to the bend's own size over new people.
  double bend = 0, net_error = 0, linear_error = 0;
  for (int n = 0; n < 200; ++n) {
    const Keypoints2D detected = random_mpii_person(rng), truth = rule(detected);
    bend += (map_joints(detected, JointSet::H36m17).xy.col(0) - truth.xy.col(0)).norm();
    net_error += (net.apply(detected).xy.col(0) - truth.xy.col(0)).norm();
    linear_error += (linear.apply(detected).xy.col(0) - truth.xy.col(0)).norm();
  }
  RecordProperty("net_relative_error", std::to_string(net_error / bend));
  RecordProperty("linear_relative_error", std::to_string(linear_error / bend));
  EXPECT_LT(net_error, 0.5 * linear_error) << "bend " << bend << ", network " << net_error << ", linear " << linear_error;

  // Its file is an MLP file (fp16 weights): the corrected pixels agree to well under a pixel.
  const auto dir = test::temp_dir("keypoint_correction_network");
  write_keypoint_correction(dir / "c.mlp", net);
  const KeypointCorrection back = read_keypoint_correction(dir / "c.mlp");
  ASSERT_EQ(back.networks.size(), 1u);
  EXPECT_EQ(back.from, JointSet::Mpii16);
  EXPECT_EQ(back.to, JointSet::H36m17);
  EXPECT_EQ(back.samples, 3000);
  EXPECT_LT((back.sigma - net.sigma).cwiseAbs().maxCoeff(), 1e-9);
  const Keypoints2D detected = random_mpii_person(rng);
  EXPECT_LT((back.apply(detected).xy - net.apply(detected).xy).cwiseAbs().maxCoeff(), 0.2);
  // An ensemble lists member files beside it; a second network trained with another seed moves the answer a
  // little (the two average), a member that is not a network or a missing one is a clear error, and an ensemble
  // is not written as one file.
  KeypointCorrectionNetworkOptions other{.hidden = 64, .blocks = 1, .epochs = 30, .batch = 64, .dropout = 0.0f};
  other.seed = 2;
  write_keypoint_correction(dir / "c2.mlp", network_learner.train(other));
  write_file_atomic(dir / "pair.json",
                    R"({"format": "monobody-keypoint-correction-ensemble", "members": ["c.mlp", "c2.mlp"]})");
  const KeypointCorrection pair = read_keypoint_correction(dir / "pair.json");
  ASSERT_EQ(pair.networks.size(), 2u);
  const KeypointCorrection second = read_keypoint_correction(dir / "c2.mlp");
  const Eigen::Matrix2Xd averaged = 0.5 * (back.apply(detected).xy + second.apply(detected).xy);
  EXPECT_LT((pair.apply(detected).xy - averaged).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_GT((second.apply(detected).xy - back.apply(detected).xy).cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_THROW(write_keypoint_correction(dir / "pair.mlp", pair), Error);
  write_keypoint_correction(dir / "linear.json", linear);
  for (const char* members : {R"(["c.mlp", "linear.json"])", R"(["c.mlp", "missing.mlp"])", "[]"}) {
    write_file_atomic(dir / "bad.json",
                      std::string(R"({"format": "monobody-keypoint-correction-ensemble", "members": )") + members + "}");
    try {
      read_keypoint_correction(dir / "bad.json");
      ADD_FAILURE() << "read an ensemble with members " << members;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
    }
  }
  // An MLP file that is not a correction (a lifter), and too few pairs to train, are clear errors.
  MlpWeights lifter = MlpWeights::initialise({.inputs = 32, .outputs = 48, .hidden = 8, .blocks = 1}, 1);
  save_mlp(dir / "lifter.mlp", lifter);
  try {
    read_keypoint_correction(dir / "lifter.mlp");
    ADD_FAILURE() << "a lifter was read as a correction";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a keypoint correction"), std::string::npos) << e.what();
  }
  KeypointCorrectionNetworkLearner few(JointSet::Mpii16, JointSet::H36m17);
  few.add(detected, rule(detected));
  EXPECT_THROW(few.train({}), Error);
}

TEST(KeypointCorrection, BringsStackedHourglassDetectionsCloserToHuman36mJoints) {
  MONOBODY_SHARED_FILE_OR_SKIP(h36m, "h36m/S9");
  // The committed correction (learned on the training subjects by `monobody train-correction`), measured on the
  // test subject's detections (every 40th frame, all cameras): the mean distance of each H36M joint to the
  // projected ground truth, through the fixed mapping and corrected.
  const KeypointCorrection correction =
      read_keypoint_correction(test::source_dir() / "models" / "lift-h36m" / "sh-correction.json");
  ASSERT_FALSE(correction.networks.empty());
  double fixed = 0, corrected = 0;
  long n = 0;
  for (const H36mSequence& seq : load_h36m(h36m.parent_path(), {"S9"})) {
    if (seq.gt_offset_suspect) continue;  // ground truth displaced from the video (data README)
    for (int c = 0; c < kH36mCameraCount; ++c) {
      const NpyArray<float> detections = seq.detections(c);
      for (int f = 0; f < seq.frame_count(); f += 40) {
        const Keypoints2D detected = h36m_detection(detections, f);
        const Eigen::Matrix2Xd truth = seq.projected_joints(f, c);
        fixed += (map_joints(detected, JointSet::H36m17).xy - truth).colwise().norm().mean();
        corrected += (correction.apply(detected).xy - truth).colwise().norm().mean();
        ++n;
      }
    }
  }
  fixed /= double(n);
  corrected /= double(n);
  RecordProperty("fixed_px", std::to_string(fixed));
  RecordProperty("corrected_px", std::to_string(corrected));
  RecordProperty("poses", std::to_string(n));
  EXPECT_GT(n, 1200);
  // Measured: 11.20 px through the fixed mapping, 9.15 px corrected (1,432 poses; least-squares maps: linear
  // 10.39, quadratic 10.08; one network without the mirror image, session 10: 9.76). The data and the model are
  // fixed, so the bound keeps 78 % of the gain; neither the quadratic map nor that single network would pass it.
  EXPECT_LT(corrected, fixed - 1.6) << "fixed " << fixed << " px, corrected " << corrected << " px";
}

}  // namespace
}  // namespace monobody
