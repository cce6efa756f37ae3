// monobody run: the whole job on a photo, a video or a folder: people and 2D keypoints -> 3D joints -> body
// meshes -> files people open elsewhere (JSON, pictures, meshes, and for video the motion).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "cli.hpp"
#include "monobody/error.hpp"
#include "monobody/export.hpp"
#include "monobody/files.hpp"
#include "monobody/image_io.hpp"
#include "monobody/pictures.hpp"
#include "monobody/pipeline.hpp"
#include "monobody/result.hpp"
#include "progress.hpp"

namespace monobody::cli {
namespace {
namespace fs = std::filesystem;

struct RunOptions {
  std::string input, output_dir, model = "full", lifter = "mlp+ordinal", lifter_model, relations, body_model;
  std::string camera_file;
  double focal = 0;
  int max_people = 4, tiles = 2, max_frames = 0, overlay_every = 100;
  bool no_body = false, no_silhouette = false, no_smooth = false, no_feet = false, no_look_ahead = false;
};

struct Summary {
  int files = 0, failed = 0, frames = 0, people = 0;
  std::set<std::string> tracks;  // "<file>/<id>" of video people
};

Result new_result() {
  Result r;
  r.generator = std::string("monobody ") + MONOBODY_VERSION;
  return r;
}

std::optional<PinholeCamera<double>> user_camera(const RunOptions& o) {
  if (o.camera_file.empty()) return std::nullopt;
  return read_camera_json(o.camera_file);
}

void write_pictures(const fs::path& base, const Image& image, const FrameResult& frame, const BodyModel* model) {
  Image overlay = image;
  draw_frame_overlay(overlay, frame, model);
  write_image(base.string() + ".overlay.png", overlay.view());
  if (std::any_of(frame.people.begin(), frame.people.end(), [](const Person& p) { return p.joints3d.has_value(); }))
    write_image(base.string() + ".side.png", side_view(frame, model).view());
}

// The fitted people as files other tools open: a BVH per person (video), one glTF binary with everyone, and the
// offline HTML viewer with the pictures behind them. Without three.js set up, the viewer is left out with a warning.
void write_exports(const fs::path& base, const Result& result, const BodyModel& model, double fps, bool bvh,
                   ViewerContent viewer) {
  const std::vector<BodyTrack> tracks = body_tracks(result);
  if (tracks.empty()) return;
  if (bvh)
    for (const BodyTrack& track : tracks) write_bvh(fmt::format("{}.person{}.bvh", base.string(), track.id), model, track, fps);
  viewer.glb = glb_bytes(model, tracks, fps);
  write_file_atomic(base.string() + ".glb", std::string_view(reinterpret_cast<const char*>(viewer.glb.data()), viewer.glb.size()));
  viewer.fps = fps;
  viewer.title = "monobody: " + result.frames.front().source;
  viewer.camera = result.frames.front().camera.value_or(default_camera(viewer.image_width, viewer.image_height));
  try {
    write_viewer_html(base.string() + ".html", viewer);
  } catch (const Error& e) {
    spdlog::warn("no HTML viewer: {}", e.what());
  }
}

void run_photo(Pipeline& pipeline, const fs::path& path, const fs::path& out, const RunOptions& o, Summary& summary,
               bool alone) {
  const Image image = read_image(path);
  std::string how;
  const PinholeCamera<double> camera = picture_camera(path, image.width(), image.height(), user_camera(o), o.focal, &how);
  spdlog::debug("{}: camera from the {}: f = {:.0f} px", path.filename().string(), how, camera.fx);
  Result result = new_result();
  result.frames.push_back(pipeline.process_photo(image.view(), path.filename().string(), camera));
  const FrameResult& frame = result.frames.back();
  if (frame.people.empty() && alone) throw Error("no person found in '" + path.string() + "'");
  if (frame.people.empty()) spdlog::warn("{}: no person found", path.filename().string());
  const fs::path base = out / path.stem();
  write_result(base.string() + ".json", result);
  write_pictures(base, image, frame, pipeline.body_model());
  if (const BodyModel* model = pipeline.body_model())
    for (const Person& p : frame.people)
      if (p.body) {
        BodyPoser poser(*model);
        poser.pose({p.body->shape, p.body->pose, p.body->global_orient, p.body->translation});
        write_obj(fmt::format("{}.person{}.obj", base.string(), p.id), poser.vertices(), model->faces);
      }
  if (const BodyModel* model = pipeline.body_model()) {
    ViewerContent viewer;
    viewer.image_width = image.width();
    viewer.image_height = image.height();
    viewer.frames_jpeg.push_back(jpeg_bytes(image.view(), 90, 1920));
    write_exports(base, result, *model, 30.0, false, std::move(viewer));
  }
  for (const Person& p : frame.people)
    if (p.extras.contains("warnings"))
      for (const auto& w : p.extras["warnings"]) spdlog::warn("{} person {}: {}", path.filename().string(), p.id, w.get<std::string>());
  ++summary.frames;
  summary.people += int(frame.people.size());
}

void run_video(Pipeline& pipeline, const fs::path& path, const fs::path& out, const RunOptions& o,
               const GlobalOptions& global, Summary& summary) {
  VideoReader video(path);
  const double fps = video.fps() > 0 ? video.fps() : 30.0;
  const std::string name = path.filename().string();
  PinholeCamera<double> camera = picture_camera(path, video.width(), video.height(), user_camera(o), o.focal);
  pipeline.reset();
  Result result = new_result();
  const int total = o.max_frames > 0 ? (video.frame_count() > 0 ? std::min(o.max_frames, video.frame_count()) : o.max_frames)
                                     : video.frame_count();
  ProgressBar progress(name, total, !global.quiet);
  const fs::path base = out / path.stem();
  // Pictures for the viewer: at most about 120 of them, at most 960 pixels wide, evenly through the video.
  ViewerContent viewer;
  viewer.image_width = video.width();
  viewer.image_height = video.height();
  viewer.frame_step = std::max(1, (std::max(total, 1) + 119) / 120);
  // A finished frame: into the result, and its pictures written when it is one to show.
  std::map<int, Image> pictures;  // frames that are to get pictures, until they come out of the pipeline
  const auto finished = [&](FrameResult f) {
    for (const Person& p : f.people) summary.tracks.insert(name + "/" + std::to_string(p.id));
    summary.people += int(f.people.size());
    if (const auto it = pictures.find(f.frame); it != pictures.end()) {
      if (!f.people.empty()) write_pictures(fmt::format("{}.{:06d}", base.string(), f.frame), it->second, f, pipeline.body_model());
      pictures.erase(it);
    }
    result.frames.push_back(std::move(f));
  };
  Image frame;
  int index = 0;
  while ((o.max_frames <= 0 || index < o.max_frames) && video.read(frame)) {
    if (pipeline.body_model() && index % viewer.frame_step == 0) viewer.frames_jpeg.push_back(jpeg_bytes(frame.view(), 80, 960));
    if (o.overlay_every > 0 && index % o.overlay_every == 0) pictures.emplace(index, frame);
    if (o.no_look_ahead) {
      finished(pipeline.process_video_frame(frame.view(), name, index, index / fps, camera));
    } else {
      pipeline.push_video_frame(frame.view(), name, index, index / fps, camera);
      while (auto f = pipeline.pop_video_frame()) finished(std::move(*f));
    }
    ++index;
    progress.advance();
  }
  while (auto f = pipeline.pop_video_frame(true)) finished(std::move(*f));
  progress.finish();
  if (index == 0) throw Error("'" + path.string() + "' has no frames that can be decoded");
  summary.frames += index;
  if (pipeline.body_model() && !o.no_feet) {
    const int pinned = pin_feet(result, *pipeline.body_model(), fps);
    spdlog::debug("{}: feet pinned in {} person-frames", name, pinned);
  }
  write_result(base.string() + ".json", result);
  if (pipeline.body_model()) write_exports(base, result, *pipeline.body_model(), fps, true, std::move(viewer));
}

}  // namespace

Command add_run_command(CLI::App& app, const GlobalOptions& global) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Photos and video to 3D people: keypoints, 3D joints, body meshes and files to open");
  sub->add_option("input", opt->input, "A photo, a video, or a folder of them")->required();
  sub->add_option("-o,--output", opt->output_dir, "Output folder (created if needed)")->required();
  sub->add_option("--model", opt->model, "BlazePose landmark model: lite (fastest), full or heavy (most accurate)")
      ->check(CLI::IsMember({"lite", "full", "heavy"}));
  sub->add_option("--lifter", opt->lifter, "2D-to-3D lifter: mlp+ordinal (uses the CNN's depth), mlp or sparse")
      ->check(CLI::IsMember({"mlp+ordinal", "mlp", "sparse"}));
  sub->add_option("--lifter-model", opt->lifter_model, "The lifter's model file (a .mlp network, a network ensemble .json, or a pose dictionary .json)");
  sub->add_option("--relations", opt->relations, "A file of ordinal depth relations to impose, one per line, e.g. Z(left knee) > Z(right knee)");
  sub->add_option("--body-model", opt->body_model, "Body model (.bin or SMPL-format .npz)");
  sub->add_flag("--no-body", opt->no_body, "Skip the body fit (keypoints and 3D joints only; much faster)");
  sub->add_flag("--no-silhouette", opt->no_silhouette, "Fit the body without the segmentation mask");
  sub->add_option("--camera", opt->camera_file, "Camera intrinsics JSON ({fx, fy, cx, cy[, distortion]} or OpenCV's {K, dist})");
  sub->add_option("--focal", opt->focal, "Focal length in pixels (default: EXIF, else the image diagonal)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--max-people", opt->max_people, "Most people per image")->check(CLI::Range(1, 100));
  sub->add_option("--tiles", opt->tiles, "Also look for small people in N x N zoomed tiles (0: off)")->check(CLI::Range(0, 8));
  sub->add_option("--max-frames", opt->max_frames, "Video: stop after this many frames (0: all)")->check(CLI::NonNegativeNumber);
  sub->add_option("--overlay-every", opt->overlay_every, "Video: overlay and side-view pictures every N frames (0: none)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--no-smooth", opt->no_smooth, "Video: no keypoint smoothing");
  sub->add_flag("--no-look-ahead", opt->no_look_ahead,
                "Video: smooth the keypoints looking back only (One-Euro filter), finishing each frame as it is read");
  sub->add_flag("--no-feet", opt->no_feet, "Video: do not pin feet in ground contact");
  return {sub, [opt, &global] {
            const fs::path input = opt->input, out = opt->output_dir;
            check_media_input(opt->input);
            const bool is_dir = fs::is_directory(input);
            if (!opt->camera_file.empty()) read_camera_json(opt->camera_file);  // a bad file fails before any work
            ensure_writable_directory(out);

            PipelineOptions options;
            options.model = parse_pose_model(opt->model);
            options.max_people = opt->max_people;
            options.detection_tiles = opt->tiles;
            options.threads = global.resolved_threads();
            options.lifter = parse_lifter_kind(opt->lifter);
            options.lifter_model = opt->lifter_model;
            if (!opt->relations.empty()) options.relations = read_ordinal_relations(opt->relations);
            options.fit_body = !opt->no_body;
            options.body_model = opt->body_model;
            options.silhouette = !opt->no_silhouette;
            options.smooth = !opt->no_smooth;
            Pipeline pipeline(options);

            const auto start = std::chrono::steady_clock::now();
            Summary summary;
            if (!is_dir) {
              ++summary.files;
              if (is_video_path(input)) run_video(pipeline, input, out, *opt, global, summary);
              else run_photo(pipeline, input, out, *opt, summary, true);
            } else {
              std::vector<fs::path> files;
              int skipped = 0;
              for (const auto& entry : fs::directory_iterator(input)) {
                if (!entry.is_regular_file()) continue;
                if (is_image_path(entry.path()) || is_video_path(entry.path())) files.push_back(entry.path());
                else ++skipped;
              }
              std::sort(files.begin(), files.end());
              if (files.empty()) throw Error("no images or videos in folder '" + input.string() + "'");
              if (skipped) spdlog::info("{}: skipping {} files that are neither images nor videos", input.string(), skipped);
              ProgressBar progress(input.filename().string(), long(files.size()), !global.quiet);
              for (const fs::path& file : files) {
                ++summary.files;
                try {
                  if (is_video_path(file)) run_video(pipeline, file, out, *opt, global, summary);
                  else run_photo(pipeline, file, out, *opt, summary, false);
                } catch (const Error& e) {
                  spdlog::error("{}: {}", file.filename().string(), e.what());
                  ++summary.failed;
                }
                progress.advance();
              }
              progress.finish();
            }
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const PipelineTimings& t = pipeline.timings();
            const int people = summary.tracks.empty() ? summary.people : int(summary.tracks.size());
            spdlog::info("{} file{}, {} frame{}, {} {}, {:.1f} s ({:.1f} fps; per frame: detect {:.1f} ms, lift {:.2f} ms, body {:.1f} ms) -> {}",
                         summary.files, summary.files == 1 ? "" : "s", summary.frames, summary.frames == 1 ? "" : "s",
                         people, summary.tracks.empty() ? "people" : "tracked people", seconds, summary.frames / seconds,
                         1e3 * t.detect / std::max(1, t.frames), 1e3 * t.lift / std::max(1, t.frames),
                         1e3 * t.fit / std::max(1, t.frames), out.string());
            if (summary.failed > 0)
              throw Error(std::to_string(summary.failed) + " of " + std::to_string(summary.files) +
                          " files failed (see above); the others' outputs are in " + out.string());
          }};
}

}  // namespace monobody::cli
