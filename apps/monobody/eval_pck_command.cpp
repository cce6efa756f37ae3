// monobody eval pck: BlazePose against human 2D labels (LSP or COCO format): PCK@0.2 and PCKh@0.5, per joint.
#include <spdlog/spdlog.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "monobody/detect.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/image_io.hpp"
#include "monobody/pck.hpp"
#include "monobody/result.hpp"
#include "monobody/skeleton.hpp"
#include "progress.hpp"

namespace monobody::cli {

// `eval` groups the evaluation commands of every stage; whichever command file comes first creates it.
CLI::App* eval_group(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() == "eval") return sub;
  CLI::App* eval = app.add_subcommand("eval", "Measure accuracy against labelled data");
  eval->require_subcommand(1);
  return eval;
}

Command add_eval_pck_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    // Defaults: the most accurate set-up measured on LSPET dev (flip averaging did not help there).
    std::string labels, model = "heavy", output, results;
    bool flip = false, single = false, no_fallback = false, black_border = false, no_heatmaps = false;
    int passes = 1, limit = 0;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = eval_group(app)->add_subcommand("pck", "PCK@0.2 and PCKh@0.5 of BlazePose on LSP- or COCO-format labels");
  sub->add_option("labels", opt->labels, "LSP- or COCO-format annotations (e.g. images/dev/lspet/lspet_dev.json, mmpose/coco/test_coco.json)")->required();
  sub->add_option("--model", opt->model, "Landmark model: lite, full or heavy")
      ->check(CLI::IsMember({"lite", "full", "heavy"}));
  sub->add_flag("--flip", opt->flip, "Average with the landmark model's answer on the mirrored crop");
  sub->add_option("--passes", opt->passes, "Extra landmark passes on the region the landmarks give")
      ->check(CLI::Range(0, 5));
  sub->add_flag("--single", opt->single, "Score only the detector's best person (no search for the labelled one)");
  sub->add_flag("--no-fallback", opt->no_fallback, "No whole-image regions when the detector misses the person");
  sub->add_flag("--black-border", opt->black_border, "Fill crops beyond the image with black (as the peer does)");
  sub->add_flag("--no-heatmap-refinement", opt->no_heatmaps, "Keep the regressed landmarks as they are");
  sub->add_option("--limit", opt->limit, "Only the first N images")->check(CLI::NonNegativeNumber);
  sub->add_option("-o,--output", opt->output, "Also write the scores as JSON");
  sub->add_option("--results", opt->results, "Also write the scored people as a result JSON (one frame per image)");
  return {sub, [opt, &global] {
            // The output folders are checked before the work, not after it.
            if (!opt->output.empty()) ensure_output_folder(opt->output);
            if (!opt->results.empty()) ensure_output_folder(opt->results);
            auto labels = read_pose_labels(opt->labels);
            if (opt->limit > 0 && int(labels.size()) > opt->limit) labels.resize(std::size_t(opt->limit));
            if (labels.empty()) throw Error("'" + opt->labels + "' has no labelled images");
            PoseDetectorOptions options;
            options.model = parse_pose_model(opt->model);
            options.flip_average = opt->flip;
            options.refine_passes = opt->passes;
            options.segmentation = false;
            options.max_people = 1;
            options.replicate_border = !opt->black_border;
            options.refine_with_heatmaps = !opt->no_heatmaps;
            options.threads = global.resolved_threads();
            PoseDetector detector(options);
            const LabelSearch search{.fallback_regions = !opt->no_fallback};

            PckEvaluator pck;
            Result scored;
            scored.generator = std::string("monobody ") + MONOBODY_VERSION;
            int found = 0;
            ProgressBar progress("pck", long(labels.size()), !global.quiet);
            for (const LabelledImage& label : labels) {
              const Image image = read_image(label.file);
              std::optional<Pose> pose;
              if (opt->single) {
                auto poses = detector.detect(image.view());
                if (!poses.empty()) pose = std::move(poses[0]);
              } else {
                pose = pose_for_label(detector, image.view(), label, search);
              }
              found += pose.has_value();
              pck.add(pose ? std::optional(pose->keypoints()) : std::nullopt, label);
              FrameResult frame;
              frame.source = label.file.filename().string();
              frame.frame = int(scored.frames.size());
              frame.image_width = image.width();
              frame.image_height = image.height();
              if (pose) frame.people.push_back(to_person(*pose));
              scored.frames.push_back(std::move(frame));
              progress.advance();
            }
            progress.finish();

            const Skeleton& lsp = skeleton(JointSet::Lsp14);
            nlohmann::json report = {{"labels", opt->labels}, {"images", pck.images()},
                                     {"found", found},        {"model", opt->model},
                                     {"flip", opt->flip},     {"passes", opt->passes},
                                     {"single", opt->single}, {"fallback", !opt->no_fallback},
                                     {"pck@0.2", pck.pck()},  {"pckh@0.5", pck.pckh()}};
            auto percent = [](double x) { return std::isnan(x) ? std::string("-") : fmt::format("{:.1f}%", 100 * x); };
            std::string table = fmt::format("{:<16}{:>10}{:>11}{:>9}\n", "joint", "PCK@0.2", "PCKh@0.5", "labels");
            for (int j = 0; j < lsp.size(); ++j) {
              // Joints a format does not label (COCO: neck, head top) and PCKh without head labels show "-".
              table += fmt::format("{:<16}{:>10}{:>11}{:>9}\n", lsp.joints[std::size_t(j)], percent(pck.pck(j)),
                                   percent(pck.pckh(j)), pck.labelled(j));
              report["per_joint"][std::string(lsp.joints[std::size_t(j)])] = {{"pck@0.2", pck.pck(j)},
                                                                              {"pckh@0.5", pck.pckh(j)}};
            }
            table += fmt::format("{:<16}{:>10}{:>11}\n", "all", percent(pck.pck()), percent(pck.pckh()));
            if (!global.quiet) std::fputs(table.c_str(), stdout);
            spdlog::info("{} people labelled, found in {}: PCK@0.2 {}, PCKh@0.5 {}", pck.images(), found,
                         percent(pck.pck()), percent(pck.pckh()));
            if (!opt->output.empty()) write_file_atomic(opt->output, report.dump(2) + "\n");
            if (!opt->results.empty()) write_result(opt->results, scored);
          }};
}

}  // namespace monobody::cli
