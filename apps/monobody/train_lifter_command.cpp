// monobody train-lifter: train the learned lifter from motion capture (see mlp_lifter_train.hpp).
#include <spdlog/spdlog.h>

#include <optional>

#include "cli.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/mlp_lifter_train.hpp"
#include "progress.hpp"

namespace monobody::cli {

Command add_train_lifter_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    MlpLifterTrainOptions train;
    std::string output, noise = "detector", data;
    bool cmu = false;
    bool fp32 = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("train-lifter", "Train the learned 2D-to-3D lifter on motion capture");
  sub->add_option("-o,--output", opt->output, "Model file to write (.mlp)")->required();
  sub->add_option("--data", opt->data, "Shared data folder (default: $MONOBODY_DATA or ../shared/data)");
  sub->add_option("--subjects", opt->train.h36m_subjects,
                  "Human3.6M training subjects (\"none\" for none: Human3.6M is for non-commercial research only)")
      ->delimiter(',');
  sub->add_flag("--cmu", opt->cmu, "Also train on the CMU motion capture (any use)");
  sub->add_option("--validation", opt->train.validation_subjects, "Human3.6M validation subjects")->delimiter(',');
  sub->add_option("--noise", opt->noise, "2D noise: detector (resampled Stacked-Hourglass errors) or none")
      ->check(CLI::IsMember({"detector", "gaussian", "none"}));
  sub->add_option("--virtual-cameras", opt->train.virtual_camera_fraction, "Fraction of samples seen by random cameras")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--paired-detections", opt->train.paired_detection_fraction,
                  "With --noise detector: fraction of real-camera views given their own frame's detection")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_flag("--with-depth", opt->train.with_depth,
                "Also feed each joint's relative depth as a 2D network estimates it (MoCap + ordinal)");
  sub->add_flag("--apparent-size", opt->train.apparent_size,
                "Also feed the pose's apparent size (for one camera set-up, e.g. a benchmark model without virtual "
                "cameras)");
  sub->add_option("--relations", opt->train.relations,
                  "Also feed ordinal depth relations: each sample gets 0 to this many random true ones (0: none)")
      ->check(CLI::Range(0, 136));
  sub->add_option("--validation-relations", opt->train.validation_relations,
                  "With --relations: true relations per validation pose")
      ->check(CLI::Range(0, 136));
  sub->add_option("--depth-noise", opt->train.depth_noise, "Per-joint depth noise, in units of the 2D RMS radius");
  sub->add_option("--hidden", opt->train.hidden, "Width of the hidden layers")->check(CLI::Range(8, 8192));
  sub->add_option("--blocks", opt->train.blocks, "Residual blocks")->check(CLI::Range(0, 16));
  sub->add_option("--epochs", opt->train.epochs, "Epochs")->check(CLI::Range(1, 1000));
  sub->add_option("--samples-per-epoch", opt->train.samples_per_epoch, "Samples per epoch (0: one per real view)");
  sub->add_option("--batch", opt->train.batch, "Batch size")->check(CLI::Range(1, 65536));
  sub->add_option("--lr", opt->train.learning_rate, "Initial learning rate");
  sub->add_option("--final-lr", opt->train.final_learning_rate, "Final learning rate (exponential decay)");
  sub->add_option("--dropout", opt->train.dropout, "Dropout probability")->check(CLI::Range(0.0, 0.9));
  sub->add_option("--seed", opt->train.seed, "Random seed");
  sub->add_option("--max-minutes", opt->train.max_minutes, "Stop after the epoch that passes this time");
  sub->add_flag("--fp32", opt->fp32, "Store float32 weights (default float16)");
  return {sub, [opt, &global] {
            Options& o = *opt;
            ensure_output_folder(o.output);
            const auto data = o.data.empty() ? shared_data_dir() : std::filesystem::path(o.data);
            o.train.h36m_dir = data / "h36m";
            o.train.noise = o.noise == "none"       ? LifterNoise::None
                            : o.noise == "gaussian" ? LifterNoise::Gaussian
                                                    : LifterNoise::Detector;
            if (o.train.h36m_subjects == std::vector<std::string>{"none"}) o.train.h36m_subjects.clear();
            if (o.cmu) o.train.cmu_dir = data / "mocap" / "cmu";
            if (o.train.h36m_subjects.empty() && o.train.noise == LifterNoise::Detector)
              throw Error("--noise detector learns from Human3.6M's detections: use --noise gaussian without it");
            o.train.threads = global.resolved_threads();
            std::optional<ProgressBar> bar;  // created once the number of batches is known
            const MlpWeights weights = train_mlp_lifter(
                o.train,
                [&](long, long total) {
                  if (!bar) bar.emplace("training", total, !global.quiet);
                  bar->advance();
                },
                [&](const MlpLifterEpoch& e, const MlpWeights& w) {
                  spdlog::info("epoch {}: loss {:.4f}, validation P1 {:.1f} mm, {:.0f} s", e.epoch, e.train_loss,
                               e.validation_p1_mm, e.seconds);
                  // A checkpoint after every epoch: a long run that is stopped still leaves a usable model.
                  if (e.epoch > 0) save_mlp(o.output, w, o.fp32 ? WeightPrecision::Float32 : WeightPrecision::Float16);
                });
            if (bar) bar->finish();
            save_mlp(o.output, weights, o.fp32 ? WeightPrecision::Float32 : WeightPrecision::Float16);
            spdlog::info("wrote {} ({} parameters)", o.output, weights.parameter_count());
          }};
}

}  // namespace monobody::cli
