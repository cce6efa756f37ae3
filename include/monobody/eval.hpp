// Evaluation of lifters: 3D pose metrics and the Human3.6M protocol, reported per action in the usual table
// (Direct., Discuss, ..., WalkT, Avg) as markdown, JSON and a bar chart.
#pragma once

#include <Eigen/Core>
#include <array>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "monobody/keypoint_correction.hpp"
#include "monobody/lift.hpp"

namespace monobody {

// ----------------------------------------------------------------------------------------------------------
// Metrics (on 3 x J joints; any units, the result is in the same units)

// Mean per-joint position error after translating both poses so that joint `root` is at the origin
// (Human3.6M protocol 1).
double mpjpe(const Eigen::Matrix3Xd& estimate, const Eigen::Matrix3Xd& truth, int root = 0);

// to ~ scale * rotation * from + translation, least squares, with a proper rotation (det = +1).
struct Similarity {
  double scale = 1.0;
  Eigen::Matrix3d rotation = Eigen::Matrix3d::Identity();
  Eigen::Vector3d translation = Eigen::Vector3d::Zero();
  Eigen::Matrix3Xd apply(const Eigen::Matrix3Xd& points) const;
};
Similarity procrustes(const Eigen::Matrix3Xd& from, const Eigen::Matrix3Xd& to);

// Mean per-joint position error after the best similarity transform of the estimate (protocol 2).
double pa_mpjpe(const Eigen::Matrix3Xd& estimate, const Eigen::Matrix3Xd& truth);

// ----------------------------------------------------------------------------------------------------------
// Human3.6M

inline constexpr int kH36mActionCount = 15;
// Action names as in the data's file names, and their short column labels in the tables.
inline constexpr std::array<std::string_view, kH36mActionCount> kH36mActions = {
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
    "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether"};
inline constexpr std::array<std::string_view, kH36mActionCount> kH36mActionLabels = {
    "Direct.", "Discuss", "Eating", "Greet", "Phone", "Photo", "Pose", "Purch.",
    "Sitting", "SittingD", "Smoke", "Wait", "WalkD", "Walk", "WalkT"};

// The action of a sequence name such as "SittingDown_1" (index into kH36mActions), or -1.
int h36m_action_index(std::string_view sequence);

enum class H36mInput {
  StackedHourglass,  // the Stacked-Hourglass MPII-16 detections shipped with the data
  GroundTruth,       // the 3D ground truth projected with the subject's calibrated camera
};

struct H36mEvalOptions {
  std::filesystem::path data_dir;                // the h36m folder of the shared data
  std::vector<std::string> subjects = {"S9"};
  H36mInput input = H36mInput::StackedHourglass;
  int stride = 1;                                // every stride-th kept frame (the data is at 10 Hz)
  long max_frames = 0;                           // per sequence, after the stride; 0 = all
  int threads = 1;
  // Ordinal depth. A pair of joints counts as "=" within this depth difference, in the ordinal accuracy and
  // for the simulated annotator.
  double ordinal_tolerance_mm = 100.0;
  // A simulated annotator: this many random joint pairs per pose with their true order ("Z(a) > Z(b)", ...),
  // given to a lifter that reads relations (Lifter::lift_knowing) and to refine_with_relations() after lifting.
  // 0: none.
  int simulated_relations = 0;
  // For lifters that read each joint's relative depth from the 2D network (mlp+ordinal): the true depths with
  // the training's noise model (mlp_lifter_train.hpp), since the data has no network depths. < 0: none.
  double simulated_depth_noise = -1.0;
  // Lift each camera view's frames as one sequence (Lifter::lift_sequence: the temporal sparse model), instead
  // of frame by frame. Use with stride 1: the data's frames are 10 Hz.
  bool video = false;
  // With video: each view's keypoints are first smoothed over its frames with this sigma, in frames
  // (smooth_keypoint_sequence; for a network, kMlpSequenceSigmaSeconds). 0: not smoothed.
  double keypoint_smoothing_frames = 0.0;
  double keypoint_outlier_scale = 0.0;  // the smoothing's robust weights (for a network, kMlpSequenceOutlierScale)
  // For the SH input: the detections corrected towards Human3.6M's joints (keypoint_correction.hpp), instead
  // of the fixed MPII -> H36M mapping. Not owned; null: none.
  const KeypointCorrection* correction = nullptr;
};

struct H36mActionErrors {
  long poses = 0;
  double p1 = 0.0;  // MPJPE after root alignment, mm
  double p2 = 0.0;  // PA-MPJPE, mm
  double p1_without_relations = 0.0, p2_without_relations = 0.0;  // with simulated relations: lifted without them
};

struct H36mReport {
  std::string lifter;
  std::vector<std::string> subjects;
  std::string input;                                    // "sh" or "gt"
  std::array<H36mActionErrors, kH36mActionCount> actions{};
  double p1 = 0.0, p2 = 0.0;                            // means over the actions that have poses
  long poses = 0;
  long failures = 0;                                    // poses the lifter rejected (not in the means)
  double ordinal_accuracy = 0.0;                        // mean over poses of the fraction of joint pairs in the
                                                        // right depth order
  // With simulated relations: the same measures lifted without them (p1 and p2 hold those with them: a lifter
  // that reads relations lifts knowing them, and every result is then refined to satisfy them).
  int relations_per_pose = 0;
  double p1_without_relations = 0.0, p2_without_relations = 0.0, ordinal_accuracy_without_relations = 0.0;
  std::vector<double> milliseconds;                     // per pose, in evaluation order
  std::vector<int> iterations;                          // per pose
};

// Runs `lifter` on every selected pose (each camera is a separate pose). progress(done, total) is called
// from the calling thread. Throws monobody::Error for missing data or an unknown subject.
H36mReport evaluate_h36m(const Lifter& lifter, const H36mEvalOptions& options,
                         const std::function<void(long done, long total)>& progress = {});

std::string to_markdown(const H36mReport& report);
nlohmann::json to_json(const H36mReport& report);
// A grouped bar chart of P1 and P2 per action (PNG, written atomically).
void write_h36m_chart(const std::filesystem::path& path, const H36mReport& report);

}  // namespace monobody
