// monobody train-correction: learn a detector's keypoint correction (keypoint_correction.hpp) from Human3.6M's
// training subjects: the shipped Stacked-Hourglass detections against the projected ground truth.
#include <fmt/format.h>
#include <optional>
#include <spdlog/spdlog.h>

#include "cli.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/h36m_data.hpp"
#include "monobody/keypoint_correction.hpp"
#include "progress.hpp"

namespace monobody::cli {

Command add_train_correction_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::vector<std::string> subjects = {"S1", "S5", "S6", "S7", "S8"};
    int step = 1;
    double ridge = 1e-6;
    std::string map = "network";
    KeypointCorrectionNetworkOptions train;
    int ensemble = 1;
    std::string output, data;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "train-correction", "Learn the Stacked-Hourglass (MPII) -> Human3.6M keypoint correction from training subjects");
  sub->add_option("--subjects", opt->subjects, "Human3.6M training subjects")->delimiter(',');
  sub->add_option("--step", opt->step, "Use every n-th frame (the data is at 10 Hz)")->check(CLI::PositiveNumber);
  sub->add_option("--ridge", opt->ridge, "Ridge weight, relative to the mean feature power")->check(CLI::NonNegativeNumber);
  sub->add_option("--map", opt->map,
                  "network: a small residual network (an MLP file); quadratic or linear: a least-squares map in the "
                  "detected coordinates (and their pairwise products), a JSON file")
      ->check(CLI::IsMember({"network", "quadratic", "linear"}))
      ->capture_default_str();
  sub->add_option("--hidden", opt->train.hidden, "network: width")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--blocks", opt->train.blocks, "network: residual blocks")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--epochs", opt->train.epochs, "network: passes over the pairs")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--dropout", opt->train.dropout, "network: dropout probability")->capture_default_str()->check(CLI::Range(0.0, 0.9));
  sub->add_option("--seed", opt->train.seed, "network: random seed (initial weights, batches, dropout)")->capture_default_str();
  sub->add_option("--ensemble", opt->ensemble,
                  "network: train this many networks (seeds --seed, --seed + 1, ...) and average them; more than one "
                  "writes them beside the output as <name>-<k>.mlp and the output as the JSON listing them")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  sub->add_option("--data", opt->data, "The h36m data folder (default: <shared data>/h36m)");
  sub->add_option("-o,--output", opt->output, "Output: .mlp for one network, .json for an ensemble or a least-squares map")->required();
  return {sub, [opt, &global] {
            ensure_output_folder(opt->output);
            const bool network = opt->map == "network";
            const bool ensemble = network && opt->ensemble > 1;
            if (!network && opt->ensemble > 1) throw Error("train-correction: --ensemble needs --map network");
            const std::filesystem::path output(opt->output);
            const std::string extension = output.extension().string();
            const std::string wanted = network && !ensemble ? ".mlp" : ".json";
            if (extension != wanted)
              throw Error("train-correction: " +
                          std::string(ensemble ? "an ensemble writes JSON (.json) listing its networks"
                                      : network ? "--map network writes an MLP file (.mlp)"
                                                : "--map " + opt->map + " writes JSON (.json)") +
                          ", not '" + opt->output + "'");
            for (const auto& s : opt->subjects)
              if (s == "S9" || s == "S11") throw Error("train-correction: " + s + " is a test subject");
            const std::filesystem::path dir = opt->data.empty() ? shared_data_dir() / "h36m" : std::filesystem::path(opt->data);
            const std::vector<H36mSequence> sequences = load_h36m(dir, opt->subjects);
            KeypointCorrectionLearner learner(JointSet::Mpii16, JointSet::H36m17, opt->map == "quadratic");
            KeypointCorrectionNetworkLearner network_learner(JointSet::Mpii16, JointSet::H36m17);
            long skipped = 0, suspect = 0;
            for (const H36mSequence& seq : sequences) {
              // The data README's flagged sequences have ground truth displaced from the video: not a pair.
              if (seq.gt_offset_suspect) {
                ++suspect;
                continue;
              }
              for (int c = 0; c < kH36mCameraCount; ++c) {
                const NpyArray<float> detections = seq.detections(c);
                Keypoints2D truth = Keypoints2D::zeros(JointSet::H36m17);
                truth.confidence.setOnes();
                for (int f = 0; f < seq.frame_count(); f += opt->step) {
                  const Keypoints2D detected = h36m_detection(detections, f);
                  truth.xy = seq.projected_joints(f, c);
                  if (!(network ? network_learner.add(detected, truth) : learner.add(detected, truth))) ++skipped;
                }
              }
            }
            const long samples = network ? network_learner.samples() : learner.samples();
            std::string subjects;
            for (const auto& s : opt->subjects) subjects += (subjects.empty() ? "" : ",") + s;
            const std::string recipe = fmt::format(
                "Human3.6M {} (Stacked-Hourglass detections vs projected ground truth, four cameras; "
                "non-commercial research only): monobody train-correction --subjects {} --step {} {} -o {}",
                subjects, subjects, opt->step,
                network ? fmt::format("--map network --hidden {} --blocks {} --epochs {} --dropout {} --seed {} --ensemble {}",
                                      opt->train.hidden, opt->train.blocks, opt->train.epochs, opt->train.dropout,
                                      opt->train.seed, opt->ensemble)
                        : fmt::format("--map {} --ridge {}", opt->map, opt->ridge),
                output.filename().string());
            KeypointCorrection correction;
            if (network) {
              set_blas_threads(global.resolved_threads());
              for (int k = 0; k < opt->ensemble; ++k) {
                KeypointCorrectionNetworkOptions train = opt->train;
                train.seed = opt->train.seed + unsigned(k);
                std::optional<ProgressBar> bar;
                const std::string label = ensemble ? fmt::format("network {}/{}", k + 1, opt->ensemble) : "training";
                KeypointCorrection member = network_learner.train(
                    train,
                    [&](long, long total) {
                      if (!bar) bar.emplace(label, total, !global.quiet);
                      bar->advance();
                    },
                    [](int epoch, double loss) { spdlog::info("epoch {}: loss {:.5f}", epoch, loss); });
                if (bar) bar->finish();
                if (k == 0) {
                  correction = std::move(member);
                  correction.sigma /= double(opt->ensemble);  // the members' mean, as the reader reports it
                } else {
                  correction.sigma += member.sigma / double(opt->ensemble);
                  correction.networks.push_back(std::move(member.networks.front()));
                }
              }
            } else {
              correction = learner.solve(opt->ridge);
            }
            correction.trained_on = recipe;
            write_keypoint_correction(output, correction);  // an ensemble: its networks beside the listing
            std::string sigmas;
            for (int j = 0; j < correction.sigma.size(); ++j)
              sigmas += fmt::format(" {}={:.3f}", skeleton(JointSet::H36m17).joints[std::size_t(j)], correction.sigma[j]);
            spdlog::info("{} pairs ({} skipped, {} flagged sequences left out); residual RMS per joint (radii):{}",
                         samples, skipped, suspect, sigmas);
            spdlog::info("-> {}", opt->output);
          }};
}

}  // namespace monobody::cli
