// monobody fit: fit the body model to the people of a result (their 2D keypoints, lifted 3D joints and an
// optional silhouette mask); writes the parameters into the result, a photo's meshes as OBJ and a shaded
// overlay. A video's result is fitted frame after frame, each person from their own previous fit.
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
#include "monobody/pipeline.hpp"
#include "monobody/render.hpp"
#include "monobody/result.hpp"
#include "progress.hpp"

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

// The picture of a result's frame: the photo, or that frame of the video, found beside the JSON (or given).
// Empty when there is none beside the JSON (the overlay is then drawn on black).
Image frame_picture(const fs::path& given, const fs::path& json, const FrameResult& frame) {
  fs::path path = given;
  if (path.empty() && !frame.source.empty()) path = json.parent_path() / frame.source;
  if (path.empty() || (given.empty() && !fs::exists(path))) {
    spdlog::warn("no picture behind the overlay: '{}' not found (pass --image)", path.string());
    return {};
  }
  if (!is_video_path(path)) return read_image(path);  // a missing or unreadable --image is an error
  VideoReader video(path);
  Image picture;
  for (int i = 0; i <= std::max(0, frame.frame); ++i)
    if (!video.read(picture)) {
      spdlog::warn("no picture behind the overlay: '{}' ends before frame {}", path.string(), frame.frame);
      return {};
    }
  return picture;
}

// The camera a frame was seen with: its own intrinsics, else the default for its recorded image size, else for
// `width` x `height`.
PinholeCamera<double> frame_camera(const FrameResult& frame, int width, int height) {
  if (frame.camera) return *frame.camera;
  return default_camera(frame.image_width > 0 ? frame.image_width : width, frame.image_height > 0 ? frame.image_height : height);
}

}  // namespace

Command add_fit_command(CLI::App& app, const GlobalOptions& global) {
  struct Options {
    std::string input, image, mask, output, model;
    int round_trip = 0;
    std::uint64_t seed = 7;
    std::string lifter = "none", lifter_model;
    bool no_feet = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("fit", "Fit the body model to the people of a result (keypoints, 3D joints, silhouette)");
  sub->add_option("input", opt->input, "Result JSON with keypoints2d (from monobody detect or lift; a photo's or a video's)");
  sub->add_option("--image", opt->image, "The photo or video, for the overlay and the image size (default: the frame's source beside the JSON)");
  sub->add_option("--mask", opt->mask, "Silhouette of the person (image, non-zero = person) for a photo's single-person result");
  sub->add_option("-o,--output", opt->output, "Output folder: result.json, overlay.png, and for a photo one OBJ per person");
  sub->add_option("--model", opt->model, "Body model (.bin, or an SMPL-format .npz); default models/body/monobody_body_v1.bin");
  sub->add_flag("--no-feet", opt->no_feet, "Video: do not pin feet in ground contact");
  sub->add_option("--round-trip", opt->round_trip, "Instead: measure the fitter on N synthetic people")->check(CLI::Range(1, 10000));
  sub->add_option("--seed", opt->seed, "--round-trip: random seed of the synthetic people (default 7)");
  sub->add_option("--lifter", opt->lifter, "--round-trip: also lift the keypoints to 3D joints for the fit")
      ->check(CLI::IsMember({"none", "sparse", "mlp"}));
  sub->add_option("--lifter-model", opt->lifter_model, "--round-trip: the lifter's dictionary or network (default: its CMU model)");
  sub->footer(fmt::format(
      "A video's result (several frames) is fitted frame after frame: each person (id) starts from their previous "
      "frame's fit, their shape settles over their first {} fits and is then held, and their feet are pinned "
      "while they touch the ground. Then `monobody export OUT/result.json --bvh` writes the motion.",
      kBodyShapeSettleFits));
  return {sub, [opt, &global] {
            const fs::path model_path = opt->model.empty() ? default_body_model_path() : fs::path(opt->model);
            const BodyModel model = load_body_model(model_path);
            if (opt->round_trip > 0) return run_round_trip(model, opt->round_trip, opt->seed, opt->lifter, opt->lifter_model);
            if (opt->input.empty() || opt->output.empty()) throw Error("fit needs an input result JSON and -o OUTDIR");
            if (is_image_path(opt->input) || is_video_path(opt->input))
              throw Error("'" + opt->input + "' is a photo or a video: detect the people's keypoints first and pass the result JSON");
            Result result = read_result(opt->input);
            if (result.frames.empty()) throw Error("'" + opt->input + "' has no frames");
            const bool video = result.frames.size() > 1;
            if (video && !opt->mask.empty())
              throw Error("--mask is one photo's silhouette, and '" + opt->input + "' has " +
                          std::to_string(result.frames.size()) + " frames");
            ensure_writable_directory(opt->output);
            // A given picture that cannot be read fails now, not after the work.
            if (video && !opt->image.empty() && is_video_path(opt->image)) VideoReader probe(opt->image);
            FrameResult& first = result.frames.front();
            // A video's picture is read at the end, once it is known which frame shows the first fitted people.
            Image image = video && (opt->image.empty() || is_video_path(opt->image)) ? Image() : frame_picture(opt->image, opt->input, first);
            if (!image.empty() && !video) {
              if (first.image_width > 0 && (first.image_width != image.width() || first.image_height != image.height()))
                spdlog::warn("the picture is {} x {} pixels, the result says {} x {}: fitting in the picture", image.width(),
                             image.height(), first.image_width, first.image_height);
              first.image_width = image.width();
              first.image_height = image.height();
            }
            const int width = image.empty() ? first.image_width : image.width();
            const int height = image.empty() ? first.image_height : image.height();
            if (width <= 0 || height <= 0) throw Error("no image and no image_size in '" + opt->input + "': pass --image");
            std::vector<std::uint8_t> mask;
            if (!opt->mask.empty()) {
              const Image m = read_image(opt->mask);
              if (m.width() != width || m.height() != height) throw Error("the mask '" + opt->mask + "' is not the image's size");
              for (int y = 0; y < m.height(); ++y)
                for (int x = 0; x < m.width(); ++x) mask.push_back(m.row(y)[3 * x] || m.row(y)[3 * x + 1] || m.row(y)[3 * x + 2] ? 255 : 0);
            }
            // A person's frames are counted by the frames' own numbers when these increase (a video processed
            // every n-th frame: a gap of more than 2 video frames means a cold start), else by position.
            const bool numbered = std::adjacent_find(result.frames.begin(), result.frames.end(), [](const FrameResult& a, const FrameResult& b) {
                                    return b.frame <= a.frame;
                                  }) == result.frames.end();
            const BodyFitter fitter(model);
            BodyTrackFitter tracks(fitter);
            ProgressBar progress("fit", long(result.frames.size()), video && !global.quiet);
            int fitted = 0;
            double seconds = 0;
            for (std::size_t f = 0; f < result.frames.size(); ++f) {
              FrameResult& frame = result.frames[f];
              const int index = numbered ? frame.frame : int(f);
              const PinholeCamera<double> camera = frame_camera(frame, width, height);
              for (auto& person : frame.people) {
                // A fit that fails leaves no body: not the one the input may have carried from an earlier fit.
                person.body.reset();
                person.extras.erase("body_height_m");
                person.extras.erase("body_fit_keypoint_rms_px");
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
                  pose = video ? tracks.fit(person.id, index, input, {}, &report) : fitter.fit(input, {}, &report);
                } catch (const Error& e) {
                  spdlog::warn("{}person {}: {}", video ? fmt::format("frame {} ", index) : "", person.id, e.what());
                  continue;
                }
                person.body = BodyParameters{model.name, pose.shape, pose.pose, pose.global_orient, pose.translation};
                person.extras["body_height_m"] = body_height(model, pose.shape);
                person.extras["body_fit_keypoint_rms_px"] = report.keypoint_rms_px;
                if (!video) {
                  BodyPoser poser(model);
                  poser.pose(pose);
                  write_obj(fs::path(opt->output) / fmt::format("person{}.obj", person.id), poser.vertices(), model.faces);
                  spdlog::info("person {}: height {:.2f} m at {:.1f} m, keypoints {:.1f} px rms ({} used), {:.2f} s", person.id,
                               body_height(model, pose.shape), poser.joints()(2, 0), report.keypoint_rms_px,
                               report.keypoints_used, report.seconds);
                }
                seconds += report.seconds;
                ++fitted;
              }
              progress.advance();
            }
            progress.finish();
            if (video && !opt->no_feet) {
              const int pinned = pin_feet(result, model, video_frame_rate(result));
              spdlog::debug("feet pinned in {} person-frames", pinned);
            }
            if (fitted == 0) throw Error("no person in '" + opt->input + "' could be fitted (see the warnings)");
            // The overlay: the first frame with fitted people (a photo's only frame), drawn before anything is
            // written, so that a picture that cannot be read leaves no half of the output.
            const auto shown = std::find_if(result.frames.begin(), result.frames.end(), [](const FrameResult& fr) {
              return std::any_of(fr.people.begin(), fr.people.end(), [](const Person& p) { return p.body.has_value(); });
            });
            const FrameResult& overlay_frame = shown == result.frames.end() ? first : *shown;
            if (video) image = frame_picture(opt->image, opt->input, overlay_frame);
            // Without the picture the overlay is drawn on black, unless that would be a picture too large to hold.
            constexpr long kMaxBlankPixels = 100'000'000;
            const bool overlay = !image.empty() || long(width) * long(height) <= kMaxBlankPixels;
            if (overlay) {
              if (image.empty()) image = Image(width, height);
              const PinholeCamera<double> overlay_camera = frame_camera(overlay_frame, image.width(), image.height());
              BodyPoser poser(model);
              for (const Person& person : overlay_frame.people)
                if (person.body) {
                  poser.pose({person.body->shape, person.body->pose, person.body->global_orient, person.body->translation});
                  draw_mesh(image, poser.vertices(), model.faces, overlay_camera, {.color = person_color(person.id), .opacity = 0.7});
                }
            } else {
              spdlog::warn("no overlay.png: no picture, and a blank one of {} x {} pixels is too large", width, height);
            }
            write_result(fs::path(opt->output) / "result.json", result);
            if (overlay) write_image(fs::path(opt->output) / "overlay.png", image.view());
            if (video)
              spdlog::info("fitted {} people in {} frames ({:.0f} ms each) -> {}; the motion: monobody export {} --bvh",
                           fitted, result.frames.size(), fitted ? 1000.0 * seconds / fitted : 0.0, opt->output,
                           (fs::path(opt->output) / "result.json").string());
            else
              spdlog::info("fitted {} people -> {}", fitted, opt->output);
          }};
}

}  // namespace monobody::cli
