// monobody eval h36m: the Human3.6M protocol for a lifter, as per-action tables (markdown, JSON) and a chart.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli.hpp"
#include "monobody/error.hpp"
#include "monobody/eval.hpp"
#include "monobody/files.hpp"
#include "monobody/h36m_data.hpp"
#include "monobody/mlp_lifter.hpp"
#include "progress.hpp"

namespace monobody::cli {

Command add_eval_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::vector<std::string> subjects = {"S9"};
    std::string input = "sh", dictionary, output = "out/eval", data, correction;
    int stride = 1;
    long max_frames = 0;
    SparseLiftOptions solver;
    std::string lifter = "sparse", model;
    int relations = 0;
    double depth_noise = 0.25;
    bool video = false, weak_perspective = false, no_flip = false;
    double perspective_prior = SparseLifterOptions{}.perspective_coefficient_prior;
    SparseVideoOptions temporal;
    double smoothing_s = kMlpSequenceSigmaSeconds;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* h36m = eval_group(app)->add_subcommand("h36m", "Human3.6M: MPJPE (P1) and PA-MPJPE (P2) per action, mm");
  h36m->add_option("--subjects", opt->subjects, "Test subjects (the shared data has S9)")->delimiter(',');
  h36m->add_option("--input", opt->input, "2D input: sh (Stacked-Hourglass detections) or gt (projected 3D)")
      ->check(CLI::IsMember({"sh", "gt"}));
  h36m->add_option("--stride", opt->stride, "Use every n-th frame (the data is at 10 Hz)")->check(CLI::PositiveNumber);
  h36m->add_option("--max-frames", opt->max_frames, "At most this many frames per sequence (0 = all)")
      ->check(CLI::NonNegativeNumber);
  h36m->add_option("--lifter", opt->lifter, "sparse, mlp, or mlp+ordinal (the MLP with simulated network depths)")
      ->check(CLI::IsMember({"sparse", "mlp", "mlp+ordinal"}));
  h36m->add_option("--model", opt->model, "Learned lifter model (.mlp, or a network ensemble .json) for --lifter mlp / mlp+ordinal");
  h36m->add_option("--relations", opt->relations,
                   "Simulated annotator: this many true ordinal relations per pose, used to refine the lifted pose")
      ->check(CLI::Range(0, 136));
  h36m->add_option("--depth-noise", opt->depth_noise,
                   "mlp+ordinal: noise of the simulated network depths, in units of the 2D RMS radius")
      ->check(CLI::NonNegativeNumber);
  h36m->add_option("--dictionary", opt->dictionary, "Pose dictionary JSON (default: models/lift/cmu-k128.json)");
  h36m->add_option("--alpha", opt->solver.alpha, "Sparsity weight of the sparse lifter")->check(CLI::NonNegativeNumber);
  h36m->add_option("--admm-tolerance", opt->solver.admm_tolerance, "Relative residual that ends the ADMM")
      ->check(CLI::PositiveNumber);
  h36m->add_option("--admm-iterations", opt->solver.max_admm_iterations, "At most this many ADMM iterations")
      ->check(CLI::PositiveNumber);
  h36m->add_option("--refine-starts", opt->solver.refine_starts, "Refinement starts (strongest bases)")
      ->check(CLI::PositiveNumber);
  h36m->add_flag("--video", opt->video,
                 "Lift each camera's frames as one sequence (sparse: jointly, with temporal smoothness; a network: "
                 "keypoints smoothed over time first); use --stride 1");
  h36m->add_option("--smoothing", opt->smoothing_s,
                   "--video, a network: sigma of the keypoints' smoothing over time, seconds")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  h36m->add_option("--coefficient-smoothness", opt->temporal.coefficient_smoothness,
                   "--video, sparse: weight of ||c_t - c_t+1||^2")
      ->check(CLI::NonNegativeNumber);
  h36m->add_option("--rotation-smoothness", opt->temporal.rotation_smoothness,
                   "--video, sparse: weight of the squared rotation angle between frames")
      ->check(CLI::NonNegativeNumber);
  h36m->add_option("--sweeps", opt->temporal.sweeps, "--video, sparse: block coordinate descent passes")
      ->check(CLI::NonNegativeNumber);
  h36m->add_flag("--no-flip", opt->no_flip,
                 "Lift the image only (default: also its mirror image, the two poses averaged; a network ensemble "
                 "file may turn it off itself)");
  h36m->add_flag("--weak-perspective", opt->weak_perspective,
                 "Sparse: keep the weak-perspective solution (default: refined under the cameras' perspective)");
  h36m->add_option("--perspective-prior", opt->perspective_prior,
                   "Sparse: pull of the coefficients towards the weak-perspective ones in the perspective refinement")
      ->check(CLI::NonNegativeNumber);
  h36m->add_option("-o,--output", opt->output, "Folder for the tables and the chart");
  h36m->add_option("--correction", opt->correction,
                   "--input sh: correct the detections towards Human3.6M's joints (a train-correction file)");
  h36m->add_option("--data", opt->data, "The h36m data folder (default: <shared data>/h36m)");
  return {h36m, [opt, &global] {
            const bool learned = opt->lifter != "sparse";
            const auto dict_path = opt->dictionary.empty() ? default_pose_dictionary_path() : std::filesystem::path(opt->dictionary);
            std::unique_ptr<Lifter> lifter_ptr;
            if (learned) {
              lifter_ptr = make_lifter(parse_lifter_kind(opt->lifter), opt->model, !opt->no_flip);
            } else {
              SparseLifterOptions options;
              options.solver = opt->solver;
              options.temporal = opt->video;
              options.perspective = !opt->weak_perspective;
              options.flip_average = !opt->no_flip;
              options.perspective_coefficient_prior = opt->perspective_prior;
              options.video = opt->temporal;
              lifter_ptr = std::make_unique<SparseLifter>(read_pose_dictionary(dict_path), options);
            }
            const Lifter& lifter = *lifter_ptr;

            H36mEvalOptions eval;
            eval.data_dir = opt->data.empty() ? shared_data_dir() / "h36m" : std::filesystem::path(opt->data);
            eval.subjects = opt->subjects;
            eval.input = opt->input == "gt" ? H36mInput::GroundTruth : H36mInput::StackedHourglass;
            eval.stride = opt->stride;
            eval.max_frames = opt->max_frames;
            eval.threads = global.resolved_threads();
            eval.simulated_relations = opt->relations;
            eval.video = opt->video;
            // A network's keypoints are smoothed over time; the data is 10 Hz, so a second is 10 / stride frames.
            if (opt->video && learned) {
              eval.keypoint_smoothing_frames = opt->smoothing_s * kH36mFrameRateHz / opt->stride;
              eval.keypoint_outlier_scale = kMlpSequenceOutlierScale;
            }
            if (opt->lifter == "mlp+ordinal") eval.simulated_depth_noise = opt->depth_noise;
            std::optional<KeypointCorrection> correction;
            if (!opt->correction.empty()) {
              if (opt->input != "sh") throw Error("eval h36m: --correction is for the detections (--input sh)");
              correction = read_keypoint_correction(opt->correction);
              eval.correction = &*correction;
            }
            ensure_writable_directory(opt->output);

            std::unique_ptr<ProgressBar> bar;
            long reported = 0;
            const H36mReport report = evaluate_h36m(lifter, eval, [&](long done, long total) {
              if (!bar) bar = std::make_unique<ProgressBar>("h36m", total, !global.quiet);
              bar->advance(done - reported);
              reported = done;
            });
            if (bar) bar->finish();

            std::string subjects;
            for (const auto& s : opt->subjects) subjects += s;
            std::string tag = opt->lifter == "mlp+ordinal" ? "mlp-ordinal" : opt->lifter;
            if (opt->relations > 0) tag += fmt::format("_rel{}", opt->relations);
            if (opt->video) tag += "_video";
            if (opt->weak_perspective) tag += "_weak";
            if (opt->no_flip) tag += "_noflip";
            if (correction) tag += "_corrected";
            const std::filesystem::path stem =
                std::filesystem::path(opt->output) / fmt::format("h36m_{}_{}_{}", subjects, opt->input, tag);
            nlohmann::json json = to_json(report);
            if (learned) {
              json["model"] = opt->model.empty() ? default_mlp_lifter_path().string() : opt->model;
              const auto& mlp = static_cast<const MlpLifter&>(lifter);
              if (mlp.member_count() == 1) {
                json["model_metadata"] = mlp.weights().metadata;
              } else {
                for (int m = 0; m < mlp.member_count(); ++m)
                  json["model_metadata"].push_back(mlp.member_weights(m).metadata);
              }
            } else {
              json["dictionary"] = dict_path.string();
            }
            if (correction) json["correction"] = opt->correction;
            json["solver"] = {{"alpha", opt->solver.alpha},
                              {"admm_tolerance", opt->solver.admm_tolerance},
                              {"max_admm_iterations", opt->solver.max_admm_iterations},
                              {"refine_starts", opt->solver.refine_starts}};
            if (opt->video && learned) json["video"] = {{"keypoint_smoothing_s", opt->smoothing_s}};
            if (opt->video && !learned)
              json["video"] = {{"coefficient_smoothness", opt->temporal.coefficient_smoothness},
                               {"rotation_smoothness", opt->temporal.rotation_smoothness},
                               {"sweeps", opt->temporal.sweeps}};
            if (!learned) json["perspective"] = opt->weak_perspective ? 0.0 : opt->perspective_prior;
            json["flip_average"] = learned ? static_cast<const MlpLifter&>(lifter).flip_average() : !opt->no_flip;
            json["stride"] = opt->stride;
            json["max_frames"] = opt->max_frames;
            json["threads"] = eval.threads;
            const std::string settings =
                learned ? fmt::format("\nModel `{}`{}, stride {}, max frames/sequence {}.\n",
                                      json["model"].get<std::string>(),
                                      json["flip_average"].get<bool>() ? ", averaged with the mirror image's pose" : "",
                                      opt->stride, opt->max_frames)
                        : fmt::format("\nDictionary `{}`, alpha {}, ADMM tolerance {} (at most {} iterations), "
                                      "{} refinement starts, {}{}, stride {}, max frames/sequence {}.\n",
                                      dict_path.filename().string(), opt->solver.alpha, opt->solver.admm_tolerance,
                                      opt->solver.max_admm_iterations, opt->solver.refine_starts,
                                      opt->weak_perspective
                                          ? std::string("weak perspective")
                                          : fmt::format("refined under perspective (coefficient pull {})",
                                                        opt->perspective_prior),
                                      !opt->no_flip ? ", averaged with the mirror image's pose" : "",
                                      opt->stride,
                                      opt->max_frames) +
                      (opt->video && learned
                           ? fmt::format("Video: each camera's keypoints smoothed over time (Gaussian, sigma {} s) "
                                         "before the network.\n",
                                         opt->smoothing_s)
                           : std::string()) +
                      (opt->video && !learned
                           ? fmt::format("Video: each camera's frames solved jointly, coefficient smoothness {}, "
                                         "rotation smoothness {}, {} sweeps.\n",
                                         opt->temporal.coefficient_smoothness, opt->temporal.rotation_smoothness,
                                         opt->temporal.sweeps)
                           : std::string()) +
                      (correction ? fmt::format("Detections corrected towards Human3.6M's joints by `{}`.\n",
                                                std::filesystem::path(opt->correction).filename().string())
                                  : std::string());
            const std::string md = to_markdown(report) + settings;
            write_file_atomic(stem.string() + ".md", md);
            write_file_atomic(stem.string() + ".json", json.dump(1) + "\n");
            write_h36m_chart(stem.string() + ".png", report);
            if (!global.quiet) std::cout << md;
            spdlog::info("per pose: {:.3f} ms median, {:.0f} iterations median -> {}.{{md,json,png}}",
                         json["milliseconds_per_pose"]["median"].get<double>(),
                         json["iterations_per_pose"]["median"].get<double>(), stem.string());
          }};
}

}  // namespace monobody::cli
