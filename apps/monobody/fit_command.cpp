// monobody fit: fit the body model to the people of a result (their 2D keypoints, lifted 3D joints and an
// optional silhouette mask); writes the parameters into the result, each mesh as OBJ and a shaded overlay.
// `--round-trip N` instead measures the fitter on N synthetic people (needs the shared CMU motion capture).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <numeric>

#include "cli.hpp"
#include "monobody/body.hpp"
#include "monobody/draw.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/image_io.hpp"
#include "monobody/lift.hpp"
#include "monobody/render.hpp"
#include "monobody/result.hpp"

namespace monobody::cli {

namespace {
namespace fs = std::filesystem;

void run_round_trip(const BodyModel& model, int trials, std::uint64_t seed, const std::string& lifter_kind,
                    const std::string& lifter_model) {
  const fs::path dir = shared_data_dir() / "mocap" / "cmu" / "expmap_li2018" / "test";
  if (!fs::is_directory(dir)) throw Error("the round trip needs the CMU clips in '" + dir.string() + "'");
  std::vector<fs::path> clips;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().string().ends_with(".pos3d.npy")) clips.push_back(e.path());
  std::sort(clips.begin(), clips.end());
  std::vector<Eigen::VectorXd> poses;
  for (const auto& c : clips) {
    auto more = retarget_cmu_clip(model, c, 4);
    poses.insert(poses.end(), more.begin(), more.end());
  }
  BodyRoundTripOptions options;
  options.trials = trials;
  options.seed = seed;
  std::unique_ptr<Lifter> lifter;
  if (lifter_kind != "none") {
    lifter = make_lifter(parse_lifter_kind(lifter_kind), lifter_model);
    options.lift = [&](const Keypoints2D& k, const PinholeCamera<double>& camera) -> std::optional<Joints3D> {
      try {
        return lifter->lift(k, &camera).joints;
      } catch (const Error&) {
        return std::nullopt;
      }
    };
  }
  const BodyRoundTripResult r = body_round_trip(model, poses, options);
  auto stats = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    return fmt::format("mean {:7.1f}  median {:7.1f}  90% {:7.1f}", mean, v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 9 / 10)]);
  };
  spdlog::info("synthetic round trip: {} people (seed {}, {} test-split mocap poses), 2 px keypoint noise, silhouette, lifter {}",
               trials, seed, poses.size(), lifter_kind);
  spdlog::info("vertex error (mm, centroids aligned):        {}", stats(r.vertex_error_mm));
  spdlog::info("joint error (mm, centroids aligned):         {}", stats(r.joint_error_mm));
  spdlog::info("height error (mm):                           {}", stats(r.height_error_mm));
  spdlog::info("vertex error (mm, centroids + scale aligned): {}", stats(r.scaled_vertex_error_mm));
  spdlog::info("root depth error (mm):                       {}", stats(r.depth_error_mm));
  spdlog::info("fit time (s, one thread):                    {}", stats(r.seconds));
}

}  // namespace

Command add_fit_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string input, image, mask, output, model;
    int round_trip = 0;
    std::uint64_t seed = 7;
    std::string lifter = "none", lifter_model;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("fit", "Fit the body model to the people of a result (keypoints, 3D joints, silhouette)");
  sub->add_option("input", opt->input, "Result JSON with keypoints2d (from monobody's detection)");
  sub->add_option("--image", opt->image, "The photo, for the overlay and the image size (default: the frame's source beside the JSON)");
  sub->add_option("--mask", opt->mask, "Silhouette of the person (image, non-zero = person) for a single-person result");
  sub->add_option("-o,--output", opt->output, "Output folder: result.json, one OBJ per person, overlay.png");
  sub->add_option("--model", opt->model, "Body model (.bin, or an SMPL-format .npz); default models/body/monobody_body_v1.bin");
  sub->add_option("--round-trip", opt->round_trip, "Instead: measure the fitter on N synthetic people")->check(CLI::Range(1, 10000));
  sub->add_option("--seed", opt->seed, "--round-trip: random seed of the synthetic people (default 7)");
  sub->add_option("--lifter", opt->lifter, "--round-trip: also lift the keypoints to 3D joints for the fit")
      ->check(CLI::IsMember({"none", "sparse", "mlp"}));
  sub->add_option("--lifter-model", opt->lifter_model, "--round-trip: the lifter's dictionary or network (default: its CMU model)");
  return {sub, [opt] {
            const fs::path model_path = opt->model.empty() ? default_body_model_path() : fs::path(opt->model);
            const BodyModel model = load_body_model(model_path);
            if (opt->round_trip > 0) return run_round_trip(model, opt->round_trip, opt->seed, opt->lifter, opt->lifter_model);
            if (opt->input.empty() || opt->output.empty()) throw Error("fit needs an input result JSON and -o OUTDIR");
            if (is_image_path(opt->input))
              throw Error("'" + opt->input + "' is an image: detect the people's keypoints first and pass the result JSON");
            Result result = read_result(opt->input);
            if (result.frames.empty()) throw Error("'" + opt->input + "' has no frames");
            ensure_writable_directory(opt->output);
            FrameResult& frame = result.frames.front();
            fs::path image_path = opt->image;
            if (image_path.empty() && !frame.source.empty()) image_path = fs::path(opt->input).parent_path() / frame.source;
            Image image;
            if (!image_path.empty() && fs::exists(image_path)) image = read_image(image_path);
            else if (!opt->image.empty()) image = read_image(opt->image);  // gives the missing-file error
            const int width = image.empty() ? frame.image_width : image.width();
            const int height = image.empty() ? frame.image_height : image.height();
            if (width <= 0 || height <= 0) throw Error("no image and no image_size in '" + opt->input + "': pass --image");
            const PinholeCamera<double> camera = frame.camera ? *frame.camera : default_camera(width, height);
            std::vector<std::uint8_t> mask;
            if (!opt->mask.empty()) {
              const Image m = read_image(opt->mask);
              if (m.width() != width || m.height() != height) throw Error("the mask '" + opt->mask + "' is not the image's size");
              for (int y = 0; y < m.height(); ++y)
                for (int x = 0; x < m.width(); ++x) mask.push_back(m.row(y)[3 * x] || m.row(y)[3 * x + 1] || m.row(y)[3 * x + 2] ? 255 : 0);
            }
            const BodyFitter fitter(model);
            if (image.empty()) image = Image(width, height);
            int fitted = 0;
            for (auto& person : frame.people) {
              if (!person.keypoints2d) continue;
              BodyFitInput input;
              input.camera = camera;
              input.keypoints = &*person.keypoints2d;
              if (person.joints3d) input.joints3d = &*person.joints3d;
              if (!mask.empty() && frame.people.size() == 1) {
                input.mask = mask.data();
                input.mask_width = width;
                input.mask_height = height;
              }
              BodyFitReport report;
              BodyPose pose;
              try {
                pose = fitter.fit(input, {}, &report);
              } catch (const Error& e) {
                spdlog::warn("person {}: {}", person.id, e.what());
                continue;
              }
              person.body = BodyParameters{model.name, pose.shape, pose.pose, pose.global_orient, pose.translation};
              person.extras["body_height_m"] = body_height(model, pose.shape);
              person.extras["body_fit_keypoint_rms_px"] = report.keypoint_rms_px;
              BodyPoser poser(model);
              poser.pose(pose);
              write_obj(fs::path(opt->output) / fmt::format("person{}.obj", person.id), poser.vertices(), model.faces);
              draw_mesh(image, poser.vertices(), model.faces, camera, {.color = person_color(person.id), .opacity = 0.7});
              spdlog::info("person {}: height {:.2f} m at {:.1f} m, keypoints {:.1f} px rms ({} used), {:.2f} s", person.id,
                           body_height(model, pose.shape), poser.joints()(2, 0), report.keypoint_rms_px,
                           report.keypoints_used, report.seconds);
              ++fitted;
            }
            write_result(fs::path(opt->output) / "result.json", result);
            write_image(fs::path(opt->output) / "overlay.png", image.view());
            spdlog::info("fitted {} people -> {}", fitted, opt->output);
          }};
}

}  // namespace monobody::cli
