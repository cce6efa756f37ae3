#include <gtest/gtest.h>

#include "monobody/error.hpp"
#include "monobody/eval.hpp"
#include "monobody/files.hpp"
#include "monobody/h36m_data.hpp"
#include "monobody/image_io.hpp"
#include "monobody/mlp_lifter.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

// A lifter that returns a fixed T-pose-like skeleton: gives a known, poor error and shows that any lifter
// plugs into the evaluation.
class FixedPoseLifter final : public Lifter {
 public:
  std::string name() const override { return "fixed"; }
  LiftOutput lift(const Keypoints2D& keypoints, const PinholeCamera<double>*) const override {
    if (keypoints.count_valid() < 5) throw Error("too few joints");
    LiftOutput out;
    out.joints = Joints3D::zeros(JointSet::H36m17);
    out.joints.xyz.row(1).setLinSpaced(17, -0.8, 0.8);
    out.joints.xyz.col(0).setZero();
    out.joints.confidence.setOnes();
    return out;
  }
};

// The evaluation of S9 (the shared data's test subject, in `dir`) from `input`, every stride-th frame.
H36mEvalOptions s9_options(const std::filesystem::path& dir, H36mInput input, int stride, long max_frames = 0) {
  H36mEvalOptions options;
  options.data_dir = dir.parent_path();
  options.subjects = {"S9"};
  options.input = input;
  options.stride = stride;
  options.max_frames = max_frames;
  return options;
}

TEST(H36mEvaluation, RunsAnyLifterAndWritesTheTables) {
  MONOBODY_SHARED_FILE_OR_SKIP(dir, "h36m/S9");
  const H36mEvalOptions options = s9_options(dir, H36mInput::GroundTruth, 50, 2);
  long last = 0;
  const H36mReport report = evaluate_h36m(FixedPoseLifter(), options, [&](long done, long) { last = done; });
  EXPECT_EQ(report.failures, 0);
  EXPECT_EQ(last, report.poses);
  // S9 has all 15 actions (29 sequences x 4 cameras x <= 2 frames).
  for (const auto& action : report.actions) EXPECT_GT(action.poses, 0);
  EXPECT_LE(report.poses, 29 * 4 * 2);
  // A fixed vertical line is far from every pose, and aligning it cannot make it worse.
  EXPECT_GT(report.p1, 150.0);
  EXPECT_LT(report.p2, report.p1);
  const std::string md = to_markdown(report);
  EXPECT_NE(md.find("| Direct. | Discuss | Eating | Greet | Phone | Photo | Pose | Purch. | Sitting | SittingD | "
                    "Smoke | Wait | WalkD | Walk | WalkT | Avg |"),
            std::string::npos)
      << md;
  const nlohmann::json j = to_json(report);
  EXPECT_DOUBLE_EQ(j["average"]["p1_mm"].get<double>(), report.p1);
  const auto out = test::temp_dir("h36m_chart");
  write_h36m_chart(out / "chart.png", report);
  const Image chart = read_image(out / "chart.png");
  EXPECT_EQ(chart.width(), 1280);
}

TEST(H36mEvaluation, SparseLifterOnDetectionsIsInTheExpectedRange) {
  MONOBODY_SHARED_FILE_OR_SKIP(dir, "h36m/S9");
  MONOBODY_SHARED_FILE_OR_SKIP(dict, "reference/monocap_posedicts/poseDict-all-K128.json");
  const SparseLifter lifter(read_pose_dictionary(dict));
  const H36mEvalOptions options = s9_options(dir, H36mInput::StackedHourglass, 100, 1);
  const H36mReport report = evaluate_h36m(lifter, options);
  EXPECT_EQ(report.failures, 0);
  // Published and measured range for this method from SH detections: P2 ~ 60-70 mm (issue 4); a small
  // sample varies, so the bound is loose but still rules out a broken solver (a fixed pose gives > 150).
  EXPECT_LT(report.p2, 90.0);
  EXPECT_LT(report.p1, 150.0);
}

// The sparse lifter with the benchmark dictionary for ground-truth 2D, with and without the mirror image averaged
// in, on the same 640 poses of S9 (every 100th frame). Measured: P2 42.8 mm with it, 45.9 without (on all of S9:
// see models/lift-h36m/NOTICE.md).
TEST(H36mEvaluation, SparseLifterGainsFromTheMirrorImage) {
  MONOBODY_SHARED_FILE_OR_SKIP(dir, "h36m/S9");
  const PoseDictionary dictionary = read_pose_dictionary(test::source_dir() / "models" / "lift-h36m" / "h36m-k128-gt.json");
  SparseLifterOptions options;
  options.solver.alpha = 0.1;
  const SparseLifter flipped(dictionary, options);
  options.flip_average = false;
  const SparseLifter plain(dictionary, options);
  const H36mEvalOptions eval = s9_options(dir, H36mInput::GroundTruth, 100);
  const H36mReport with_mirror = evaluate_h36m(flipped, eval), without = evaluate_h36m(plain, eval);
  ASSERT_GT(with_mirror.poses, 500);
  EXPECT_EQ(with_mirror.failures, 0);
  EXPECT_LT(with_mirror.p2, without.p2 - 1.5) << "with " << with_mirror.p2 << " mm, without " << without.p2 << " mm";
  EXPECT_LT(with_mirror.p1, without.p1);
}

TEST(H36mEvaluation, TheDetectionCorrectionHelpsTheSparseLifter) {
  MONOBODY_SHARED_FILE_OR_SKIP(dir, "h36m/S9");
  // The committed correction (learned on the training subjects' detections) and the benchmark dictionary for
  // detections: the S9 detections, corrected, must lift closer to the truth than through the fixed mapping, and
  // closer still with the recipe for corrected detections.
  const auto models = test::source_dir() / "models" / "lift-h36m";
  const KeypointCorrection correction = read_keypoint_correction(models / "sh-correction.json");
  SparseLifterOptions options;
  options.solver.alpha = 0.6;
  options.flip_average = false;  // one solve per pose: this test runs under the sanitizers too
  const SparseLifter lifter(read_pose_dictionary(models / "h36m-k128.json"), options);
  H36mEvalOptions eval = s9_options(dir, H36mInput::StackedHourglass, 200);
  const H36mReport fixed = evaluate_h36m(lifter, eval);
  eval.correction = &correction;
  const H36mReport corrected = evaluate_h36m(lifter, eval);
  RecordProperty("p1_fixed_mm", std::to_string(fixed.p1));
  RecordProperty("p1_corrected_mm", std::to_string(corrected.p1));
  RecordProperty("p2_fixed_mm", std::to_string(fixed.p2));
  RecordProperty("p2_corrected_mm", std::to_string(corrected.p2));
  RecordProperty("poses", std::to_string(corrected.poses));
  ASSERT_GT(corrected.poses, 250);
  EXPECT_EQ(corrected.failures, 0);
  // Measured on these 348 poses: P1 99.8 -> 86.2 mm, P2 59.1 -> 54.6 (all of S9 with the mirror image and alpha
  // 0.1: P1 101.3 -> 86.3, P2 68.2 -> 62.1). The bounds keep about three quarters of the gains.
  EXPECT_LT(corrected.p1, fixed.p1 - 10.0) << "corrected " << corrected.p1 << " mm, fixed mapping " << fixed.p1 << " mm";
  EXPECT_LT(corrected.p2, fixed.p2 - 3.5) << "corrected " << corrected.p2 << " mm, fixed mapping " << fixed.p2 << " mm";

  // The committed recipe for corrected detections (models/lift-h36m/NOTICE.md): the dictionary learned for them and
  // alpha 0.1. Measured on these poses: P2 54.6 -> 53.2 mm (P1 86.2 -> 89.9: without the mirror image the smaller
  // alpha costs P1 here; all of S9 with it: P1 86.2, P2 61.9). The bound keeps half the P2 gain.
  options.solver.alpha = 0.1;
  const SparseLifter recipe(read_pose_dictionary(models / "h36m-k128-sh.json"), options);
  const H36mReport tuned = evaluate_h36m(recipe, eval);
  RecordProperty("p2_recipe_mm", std::to_string(tuned.p2));
  EXPECT_EQ(tuned.failures, 0);
  EXPECT_LT(tuned.p2, corrected.p2 - 0.7) << "recipe " << tuned.p2 << " mm, alpha 0.6 " << corrected.p2 << " mm";
}

// The benchmark network for detections, lifting each camera's first 20 frames (2 s) as video: smoothing the
// detections over 0.1 s (one frame of this 10 Hz data) before the network must bring its joints closer to the
// truth than lifting frame by frame.
TEST(H36mEvaluation, TheNetworkLiftsDetectionsBetterAsVideo) {
  MONOBODY_SHARED_FILE_OR_SKIP(dir, "h36m/S9");
  const auto model = test::source_dir() / "models" / "lift-h36m" / "mlp-h36m-sh-ensemble.json";
  const MlpLifter lifter(model);
  H36mEvalOptions eval = s9_options(dir, H36mInput::StackedHourglass, 1, 20);
  const H36mReport frames = evaluate_h36m(lifter, eval);
  eval.video = true;
  eval.keypoint_smoothing_frames = kMlpSequenceSigmaSeconds * kH36mFrameRateHz;
  const H36mReport video = evaluate_h36m(lifter, eval);
  RecordProperty("p1_frames_mm", std::to_string(frames.p1));
  RecordProperty("p1_video_mm", std::to_string(video.p1));
  RecordProperty("p2_frames_mm", std::to_string(frames.p2));
  RecordProperty("p2_video_mm", std::to_string(video.p2));
  ASSERT_EQ(video.poses, 29 * 4 * 20);
  EXPECT_EQ(video.failures, 0);
  // Measured on these 2,320 poses: P1 53.1 -> 51.3 mm, P2 32.8 -> 32.2 (all of S9: P1 72.8 -> 70.8, P2 54.3 ->
  // 53.4). The bounds keep half the gains.
  EXPECT_LT(video.p1, frames.p1 - 0.9) << "video " << video.p1 << " mm, frame by frame " << frames.p1 << " mm";
  EXPECT_LT(video.p2, frames.p2 - 0.3) << "video " << video.p2 << " mm, frame by frame " << frames.p2 << " mm";
}

TEST(H36mEvaluation, ReportsUnknownSubjects) {
  MONOBODY_SHARED_FILE_OR_SKIP(dir, "h36m/S9");
  H36mEvalOptions options;
  options.data_dir = dir.parent_path();
  options.subjects = {"S11"};
  EXPECT_THROW(evaluate_h36m(FixedPoseLifter(), options), Error);
}

}  // namespace
}  // namespace monobody
