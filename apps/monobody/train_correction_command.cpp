// monobody train-correction: learn a detector's keypoint correction (keypoint_correction.hpp) from Human3.6M's
// training subjects: the shipped Stacked-Hourglass detections against the projected ground truth.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/h36m_data.hpp"
#include "monobody/keypoint_correction.hpp"

namespace monobody::cli {

Command add_train_correction_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::vector<std::string> subjects = {"S1", "S5", "S6", "S7", "S8"};
    int step = 1;
    double ridge = 1e-6;
    bool linear = false;
    std::string output, data;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "train-correction", "Learn the Stacked-Hourglass (MPII) -> Human3.6M keypoint correction from training subjects");
  sub->add_option("--subjects", opt->subjects, "Human3.6M training subjects")->delimiter(',');
  sub->add_option("--step", opt->step, "Use every n-th frame (the data is at 10 Hz)")->check(CLI::PositiveNumber);
  sub->add_option("--ridge", opt->ridge, "Ridge weight, relative to the mean feature power")->check(CLI::NonNegativeNumber);
  sub->add_flag("--linear", opt->linear, "A map linear in the detections only (default: also their pairwise products)");
  sub->add_option("--data", opt->data, "The h36m data folder (default: <shared data>/h36m)");
  sub->add_option("-o,--output", opt->output, "Output correction JSON")->required();
  return {sub, [opt] {
            ensure_output_folder(opt->output);
            for (const auto& s : opt->subjects)
              if (s == "S9" || s == "S11") throw Error("train-correction: " + s + " is a test subject");
            const std::filesystem::path dir = opt->data.empty() ? shared_data_dir() / "h36m" : std::filesystem::path(opt->data);
            const std::vector<H36mSequence> sequences = load_h36m(dir, opt->subjects);
            KeypointCorrectionLearner learner(JointSet::Mpii16, JointSet::H36m17, !opt->linear);
            long skipped = 0, suspect = 0;
            for (const H36mSequence& seq : sequences) {
              // The data README's flagged sequences have ground truth displaced from the video: not a pair.
              if (seq.gt_offset_suspect) {
                ++suspect;
                continue;
              }
              for (int c = 0; c < kH36mCameraCount; ++c) {
                const H36mCamera& camera = seq.cameras[std::size_t(c)];
                const NpyArray<float> detections = seq.detections(c);
                Keypoints2D detected = Keypoints2D::zeros(JointSet::Mpii16), truth = Keypoints2D::zeros(JointSet::H36m17);
                detected.confidence.setOnes();
                truth.confidence.setOnes();
                for (int f = 0; f < seq.frame_count(); f += opt->step) {
                  for (int j = 0; j < 16; ++j) detected.xy.col(j) << detections.at({f, j, 0}), detections.at({f, j, 1});
                  for (int j = 0; j < 17; ++j)
                    truth.xy.col(j) = camera.intrinsics.project(camera.pose.to_camera(Eigen::Vector3d(
                        seq.world.at({f, j, 0}), seq.world.at({f, j, 1}), seq.world.at({f, j, 2}))));
                  if (!learner.add(detected, truth)) ++skipped;
                }
              }
            }
            KeypointCorrection correction = learner.solve(opt->ridge);
            std::string subjects;
            for (const auto& s : opt->subjects) subjects += (subjects.empty() ? "" : ",") + s;
            correction.trained_on = fmt::format(
                "Human3.6M {} (Stacked-Hourglass detections vs projected ground truth, four cameras; "
                "non-commercial research only): monobody train-correction --subjects {} --step {} --ridge {}{} -o {}",
                subjects, subjects, opt->step, opt->ridge, opt->linear ? " --linear" : "",
                std::filesystem::path(opt->output).filename().string());
            write_keypoint_correction(opt->output, correction);
            std::string sigmas;
            for (int j = 0; j < correction.sigma.size(); ++j)
              sigmas += fmt::format(" {}={:.3f}", skeleton(JointSet::H36m17).joints[std::size_t(j)], correction.sigma[j]);
            spdlog::info("{} pairs ({} skipped, {} flagged sequences left out); residual RMS per joint (radii):{}",
                         learner.samples(), skipped, suspect, sigmas);
            spdlog::info("-> {}", opt->output);
          }};
}

}  // namespace monobody::cli
