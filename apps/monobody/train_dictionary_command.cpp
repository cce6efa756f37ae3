// monobody train-dictionary: learn a pose dictionary for the sparse lifter from motion capture.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/lift.hpp"

namespace monobody::cli {

Command add_train_dictionary_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string source = "cmu", output, data;
    std::vector<std::string> subjects = {"S1", "S5", "S6", "S7", "S8"};
    int cmu_step = 2, h36m_step = 4;
    DictionaryLearningOptions learning;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("train-dictionary", "Learn a pose dictionary (sparse coding) from motion capture");
  sub->add_option("--source", opt->source, "Training poses: cmu (CMU mocap, the default dictionary), h36m, or cmu+h36m")
      ->check(CLI::IsMember({"cmu", "h36m", "cmu+h36m"}));
  sub->add_option("--subjects", opt->subjects, "Human3.6M training subjects")->delimiter(',');
  sub->add_option("--bases", opt->learning.bases, "Number of basis poses K")->check(CLI::PositiveNumber);
  sub->add_option("--lambda", opt->learning.lambda, "l1 weight of the sparse codes")->check(CLI::NonNegativeNumber);
  sub->add_option("--iterations", opt->learning.iterations, "Alternations of coding and update")
      ->check(CLI::PositiveNumber);
  sub->add_option("--max-samples", opt->learning.max_samples, "Poses used (a random subset)")->check(CLI::PositiveNumber);
  sub->add_option("--seed", opt->learning.seed, "Random seed");
  sub->add_option("--cmu-step", opt->cmu_step, "Use every n-th CMU frame")->check(CLI::PositiveNumber);
  sub->add_option("--h36m-step", opt->h36m_step, "Use every n-th Human3.6M frame (stored at 10 Hz)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--data", opt->data, "The shared data folder (default: ../shared/data or $MONOBODY_DATA)");
  sub->add_option("-o,--output", opt->output, "Output dictionary JSON (arrays are written beside it)")->required();
  return {sub, [opt] {
            ensure_output_folder(opt->output);
            const std::filesystem::path data = opt->data.empty() ? shared_data_dir() : std::filesystem::path(opt->data);
            std::vector<Eigen::Matrix3Xd> raw;
            if (opt->source != "h36m") raw = load_cmu_poses(data / "mocap" / "cmu", opt->cmu_step);
            const std::size_t cmu = raw.size();
            if (opt->source != "cmu") {
              auto h36m = load_h36m_poses(data / "h36m", opt->subjects, opt->h36m_step);
              raw.insert(raw.end(), h36m.begin(), h36m.end());
            }
            std::vector<Eigen::Matrix3Xd> poses;
            poses.reserve(raw.size());
            for (const auto& p : raw) {
              try {
                poses.push_back(normalize_training_pose(p));
              } catch (const Error&) {
                // a degenerate frame (collapsed torso) carries no pose information
              }
            }
            spdlog::info("{} training poses ({} CMU, {} Human3.6M), {} usable", raw.size(), cmu, raw.size() - cmu,
                         poses.size());
            DictionaryLearningReport report;
            PoseDictionary dict = learn_pose_dictionary(poses, opt->learning, &report, [](int it, double error) {
              spdlog::debug("iteration {}: relative error {:.4f}", it, error);
            });
            std::string command = fmt::format(
                "monobody train-dictionary --source {} --bases {} --lambda {} --iterations {} --max-samples {} --seed {} "
                "--cmu-step {} --h36m-step {}",
                opt->source, opt->learning.bases, opt->learning.lambda, opt->learning.iterations,
                opt->learning.max_samples, opt->learning.seed, opt->cmu_step, opt->h36m_step);
            if (opt->source != "cmu") {
              std::string subjects;
              for (const auto& s : opt->subjects) subjects += (subjects.empty() ? "" : ",") + s;
              command += " --subjects " + subjects;
            }
            command += " -o " + std::filesystem::path(opt->output).filename().string();
            dict.info["training"] = {
                {"command", command},
                {"source", opt->source},
                {"poses", poses.size()},
                {"samples", report.samples},
                {"relative_error", report.relative_error},
                {"mean_active_bases", report.mean_active},
                {"units", "normalised: unit mean bone length; each basis has the Frobenius norm of the mean pose"},
                {"frame", "x = the person's left, y down, facing -z"},
                {"licence", opt->source == "cmu" ? "learned from CMU mocap (any use, no resale of the data)"
                                                 : "learned with Human3.6M: non-commercial research only"}};
            write_pose_dictionary(opt->output, dict);
            spdlog::info("K = {}: relative error {:.4f}, {:.2f} active bases per pose -> {}", dict.size(),
                         report.relative_error, report.mean_active, opt->output);
          }};
}

}  // namespace monobody::cli
