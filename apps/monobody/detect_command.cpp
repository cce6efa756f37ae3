// monobody detect: people and their BlazePose landmarks in a photo, a folder of photos or a video.
// Writes per input a result JSON, an overlay picture and, on request, the people's mask.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "cli.hpp"
#include "monobody/detect.hpp"
#include "monobody/draw.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/image_io.hpp"
#include "monobody/result.hpp"
#include "monobody/smoothing.hpp"
#include "progress.hpp"

namespace monobody::cli {
namespace {
namespace fs = std::filesystem;

struct DetectOptions {
  std::string input, output_dir, model = "full";
  int max_people = 4;
  double min_score = 0.2, min_presence = 0.5;
  bool mask = false, no_overlay = false, flip = false, no_smooth = false;
  int passes = 0;
  int overlay_every = 50;
};

FrameResult frame_result(const std::string& source, int index, double time, const ImageView& image,
                         const std::vector<Pose>& poses) {
  FrameResult f;
  f.source = source;
  f.frame = index;
  f.time = time;
  f.image_width = image.width;
  f.image_height = image.height;
  for (const Pose& pose : poses) f.people.push_back(to_person(pose));
  return f;
}

void write_overlay(const fs::path& path, const Image& image, const std::vector<Pose>& poses) {
  Image canvas = image;
  for (const Pose& pose : poses) draw_skeleton(canvas, pose.keypoints(), pose.id, {.min_confidence = 0.5});
  write_image(path, canvas.view());
}

// Grey levels: the largest probability of any person at each pixel.
void write_mask(const fs::path& path, int width, int height, const std::vector<Pose>& poses) {
  Image mask(width, height);
  for (const Pose& pose : poses) {
    if (pose.mask.empty()) continue;
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const auto v = std::uint8_t(std::lround(std::clamp(pose.mask.at(x, y), 0.0f, 1.0f) * 255));
        std::uint8_t* px = mask.row(y) + 3 * x;
        if (v > px[0]) px[0] = px[1] = px[2] = v;
      }
  }
  write_image(path, mask.view());
}

Result new_result() {
  Result r;
  r.generator = std::string("monobody ") + MONOBODY_VERSION;
  return r;
}

// One photo; returns the number of people found.
// `alone`: a photo given by itself, where nobody in it is an error (and nothing is written, so an earlier result
// stays); in a folder, an empty result says that the photo has nobody.
int detect_photo(PoseDetector& detector, const fs::path& path, const fs::path& out, const DetectOptions& opt, bool alone) {
  const Image image = read_image(path);
  const std::vector<Pose> poses = detector.detect(image.view());
  if (poses.empty() && alone) throw Error("no person found in '" + path.string() + "'");
  Result result = new_result();
  result.frames.push_back(frame_result(path.filename().string(), 0, 0.0, image.view(), poses));
  const std::string stem = path.stem().string();
  write_result(out / (stem + ".json"), result);
  if (!opt.no_overlay) write_overlay(out / (stem + ".overlay.png"), image, poses);
  if (opt.mask) write_mask(out / (stem + ".mask.png"), image.width(), image.height(), poses);
  return int(poses.size());
}

void detect_video(PoseDetector& detector, const fs::path& path, const fs::path& out, const DetectOptions& opt,
                  const GlobalOptions& global) {
  VideoReader video(path);
  const double fps = video.fps() > 0 ? video.fps() : 30.0;
  const std::string stem = path.stem().string();
  Result result = new_result();
  ProgressBar progress(path.filename().string(), video.frame_count(), !global.quiet);
  Image frame;
  int index = 0, with_people = 0;
  std::vector<int> ids;
  KeypointSmoother smoother;
  while (video.read(frame)) {
    const double time = index / fps;
    std::vector<Pose> poses = detector.detect_video(frame.view(), time);
    if (!opt.no_smooth)
      for (Pose& pose : poses) {
        // The landmarks themselves (pixels and BlazePose's z) are smoothed, so the JSON and the overlay agree.
        Keypoints2D kp = pose.keypoints();
        kp.depth = pose.landmarks.row(2).transpose();
        smoother.smooth(pose.id, kp, time);
        pose.landmarks.topRows<2>() = kp.xy;
        pose.landmarks.row(2) = kp.depth.transpose();
      }
    result.frames.push_back(frame_result(path.filename().string(), index, time, frame.view(), poses));
    with_people += !poses.empty();
    for (const Pose& p : poses)
      if (std::find(ids.begin(), ids.end(), p.id) == ids.end()) ids.push_back(p.id);
    if (!opt.no_overlay && opt.overlay_every > 0 && index % opt.overlay_every == 0) {
      char name[32];
      std::snprintf(name, sizeof name, ".%06d.overlay.png", index);
      write_overlay(out / (stem + name), frame, poses);
      if (opt.mask) {
        std::snprintf(name, sizeof name, ".%06d.mask.png", index);
        write_mask(out / (stem + name), frame.width(), frame.height(), poses);
      }
    }
    ++index;
    progress.advance();
  }
  progress.finish();
  if (index == 0) throw Error("'" + path.string() + "' has no frames");
  write_result(out / (stem + ".json"), result);
  spdlog::info("{}: {} frames, people in {}, {} distinct ids -> {}", path.filename().string(), index, with_people,
               ids.size(), (out / (stem + ".json")).string());
}

}  // namespace

Command add_detect_command(CLI::App& app, const GlobalOptions& global) {
  auto opt = std::make_shared<DetectOptions>();
  CLI::App* sub =
      app.add_subcommand("detect", "Find people and their 2D/3D landmarks (BlazePose) in photos or a video");
  sub->add_option("input", opt->input, "A photo, a folder of photos, or a video")->required();
  sub->add_option("-o,--output", opt->output_dir, "Output folder (created if needed)")->required();
  sub->add_option("--model", opt->model, "Landmark model: lite, full or heavy")
      ->check(CLI::IsMember({"lite", "full", "heavy"}));
  sub->add_option("--max-people", opt->max_people, "Most people per image")->check(CLI::Range(1, 100));
  sub->add_option("--min-score", opt->min_score, "Detector score for a candidate person")->check(CLI::Range(0.0, 1.0));
  sub->add_option("--min-presence", opt->min_presence, "Landmark model's presence score to keep a person")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_flag("--mask", opt->mask, "Also write the people's segmentation mask (PNG)");
  sub->add_flag("--no-overlay", opt->no_overlay, "Do not write overlay pictures");
  sub->add_flag("--flip", opt->flip, "Photos: average with the landmark model's answer on the mirrored crop");
  sub->add_option("--passes", opt->passes, "Photos: extra landmark passes on the region the landmarks give")
      ->check(CLI::Range(0, 5));
  sub->add_flag("--no-smooth", opt->no_smooth, "Video: keep each frame's landmarks as found (default: One-Euro smoothed)");
  sub->add_option("--overlay-every", opt->overlay_every, "Video: write an overlay every N frames (0: none)")
      ->check(CLI::NonNegativeNumber);
  return {sub, [opt, &global] {
            const fs::path input = opt->input, out = opt->output_dir;
            check_media_input(opt->input);
            const bool is_dir = fs::is_directory(input);
            ensure_writable_directory(out);
            PoseDetectorOptions options;
            options.model = parse_pose_model(opt->model);
            options.max_people = opt->max_people;
            options.min_detection_score = opt->min_score;
            options.min_pose_presence = opt->min_presence;
            options.segmentation = opt->mask;
            options.flip_average = opt->flip;
            options.refine_passes = opt->passes;
            options.threads = global.resolved_threads();
            PoseDetector detector(options);

            if (is_video_path(input)) return detect_video(detector, input, out, *opt, global);
            if (!is_dir) {
              const int people = detect_photo(detector, input, out, *opt, true);
              spdlog::info("{}: {} people -> {}", input.filename().string(), people, out.string());
              return;
            }
            std::vector<fs::path> photos;
            for (const auto& entry : fs::directory_iterator(input))
              if (entry.is_regular_file() && is_image_path(entry.path())) photos.push_back(entry.path());
            std::sort(photos.begin(), photos.end());
            if (photos.empty()) throw Error("no images in folder '" + input.string() + "'");
            ProgressBar progress(input.filename().string(), long(photos.size()), !global.quiet);
            int people = 0, empty = 0, failed = 0;
            for (const fs::path& photo : photos) {
              try {
                const int n = detect_photo(detector, photo, out, *opt, false);
                people += n;
                empty += n == 0;
              } catch (const Error& e) {
                spdlog::warn("{}", e.what());
                ++failed;
              }
              progress.advance();
            }
            progress.finish();
            if (failed == int(photos.size())) throw Error("no image in '" + input.string() + "' could be read");
            spdlog::info("{} images: {} people, {} images without anyone, {} unreadable -> {}", photos.size(), people,
                         empty, failed, out.string());
            // As `run` does: the readable ones are written, and the exit code says that some were not.
            if (failed > 0)
              throw Error(std::to_string(failed) + " of " + std::to_string(photos.size()) + " images in '" + input.string() +
                          "' could not be read (see the warnings)");
          }};
}

}  // namespace monobody::cli
