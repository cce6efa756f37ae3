// monobody train-body-model: learn monobody's body model from the MakeHuman assets and CMU motion capture.
#include <spdlog/spdlog.h>

#include <chrono>

#include "cli.hpp"
#include "monobody/body.hpp"
#include "monobody/files.hpp"

namespace monobody::cli {

Command add_train_body_model_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string makehuman, mocap, output = "models/body/monobody_body_v1.bin";
    BodyModelBuildOptions build;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("train-body-model",
                                     "Learn the statistical body model from the CC0 MakeHuman assets (deterministic)");
  sub->add_option("-o,--output", opt->output, "Model file to write")->capture_default_str();
  sub->add_option("--makehuman", opt->makehuman, "MakeHuman assets (default: <shared data>/body/makehuman)");
  sub->add_option("--mocap", opt->mocap, "CMU clips for the pose prior (default: <shared data>/mocap/cmu/expmap_li2018)");
  sub->add_option("--samples", opt->build.samples, "Characters sampled for the shape space")
      ->capture_default_str()->check(CLI::Range(40, 20000));
  sub->add_option("--components", opt->build.components, "Shape components")
      ->capture_default_str()->check(CLI::Range(1, 64));
  sub->add_option("--seed", opt->build.seed, "Sampling seed")->capture_default_str();
  return {sub, [opt] {
            ensure_output_folder(opt->output);
            opt->build.makehuman_dir = opt->makehuman.empty() ? shared_data_dir() / "body" / "makehuman" : std::filesystem::path(opt->makehuman);
            opt->build.mocap_dir = opt->mocap.empty() ? shared_data_dir() / "mocap" / "cmu" / "expmap_li2018" : std::filesystem::path(opt->mocap);
            const auto start = std::chrono::steady_clock::now();
            BodyModelBuildReport report;
            const BodyModel model = build_body_model(opt->build, &report);
            save_body_model(opt->output, model);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            spdlog::info("{} vertices, {} triangles, {} joints, {} landmarks, {} shape components ({:.2f}% of the "
                         "sampled variance)",
                         model.num_vertices(), model.faces.cols(), model.num_joints(), model.landmarks.size(),
                         model.num_shapes(), 100 * report.explained_variance);
            spdlog::info("joint regression rms {:.2f} mm, semantic map rms {:.1f} mm, pose prior from {} mocap frames",
                         report.joint_regression_rms_mm, report.semantic_fit_rms_mm, report.mocap_frames);
            spdlog::info("wrote {} ({} bytes) in {:.1f} s", opt->output, std::filesystem::file_size(opt->output), seconds);
          }};
}

}  // namespace monobody::cli
