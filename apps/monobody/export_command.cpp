// monobody export: the fitted people of a result as BVH (one per person), one glTF binary with everyone and a
// self-contained HTML viewer showing them over the photo or video frames.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "cli.hpp"
#include "monobody/body.hpp"
#include "monobody/error.hpp"
#include "monobody/export.hpp"
#include "monobody/files.hpp"
#include "monobody/image_io.hpp"
#include "monobody/result.hpp"

namespace monobody::cli {

namespace {
namespace fs = std::filesystem;

// Limits that keep the viewer page small: pictures of a video, their width, and a photo's width.
constexpr int kMaxPictures = 120;
constexpr int kVideoPictureWidth = 960;
constexpr int kPhotoWidth = 1920;

// The background pictures: the photo, or every frame_step-th frame of the video, found in `dir`.
void add_pictures(ViewerContent& content, const Result& result, const fs::path& dir) {
  const std::string& source = result.frames.front().source;
  const fs::path path = dir / source;
  if (source.empty() || !fs::exists(path)) {
    spdlog::warn("no picture behind the people in the viewer: '{}' not found", path.string());
    return;
  }
  if (is_video_path(path)) {
    // Result frame k shows video frame result.frames[k].frame; every frame_step-th result frame gets a picture.
    content.frame_step = std::max(1, int(std::ceil(double(result.frames.size()) / kMaxPictures)));
    VideoReader video(path);
    Image frame;
    std::size_t next = 0;
    for (int index = 0; next < result.frames.size() && video.read(frame); ++index) {
      if (index != result.frames[next].frame) continue;
      content.frames_jpeg.push_back(jpeg_bytes(frame.view(), 85, kVideoPictureWidth));
      next += std::size_t(content.frame_step);
    }
  } else {
    const Image image = read_image(path);
    content.frames_jpeg.push_back(jpeg_bytes(image.view(), 90, kPhotoWidth));
    if (content.image_width <= 0) content.image_width = image.width(), content.image_height = image.height();
  }
}

}  // namespace

Command add_export_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string input, output, model, images;
    bool bvh = false, glb = false, html = false;
    double fps = 0;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "export", "Export the fitted people of a result as BVH, glTF binary and an HTML viewer (all three unless some are chosen)");
  sub->add_option("input", opt->input, "Result JSON with body parameters (from monobody fit)")->required();
  sub->add_option("-o,--output", opt->output, "Output folder: person<id>.bvh, scene.glb, viewer.html")->required();
  sub->add_flag("--bvh", opt->bvh, "Write one BVH per person");
  sub->add_flag("--glb", opt->glb, "Write scene.glb (glTF binary: meshes, skeletons, animation)");
  sub->add_flag("--html", opt->html, "Write viewer.html (three.js viewer, works offline)");
  sub->add_option("--fps", opt->fps, "Frame rate (default: from the result's frame times, 30 for a photo)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--images", opt->images, "Folder of the frames' source photo or video, for the viewer (default: beside the JSON)");
  sub->add_option("--model", opt->model, "Body model the parameters belong to (default models/body/monobody_body_v1.bin)");
  return {sub, [opt] {
            if (!opt->bvh && !opt->glb && !opt->html) {
              opt->bvh = opt->glb = true;
              // Unasked for, the viewer is left out with a warning when three.js has not been set up.
              opt->html = fs::exists(default_three_dir() / "build" / "three.min.js");
              if (!opt->html) spdlog::warn("no viewer.html: three.js is not in '{}' (run scripts/setup.sh)", default_three_dir().string());
            }
            const Result result = read_result(opt->input);
            const std::vector<BodyTrack> tracks = body_tracks(result);
            if (tracks.empty())
              throw Error("'" + opt->input + "' has no people with body parameters: run monobody fit first");
            const BodyModel model = load_body_model(opt->model.empty() ? default_body_model_path() : fs::path(opt->model));
            for (const FrameResult& frame : result.frames)
              for (const Person& person : frame.people)
                if (person.body && person.body->model != model.name)
                  throw Error("person " + std::to_string(person.id) + " was fitted with body model '" + person.body->model +
                              "', not '" + model.name + "': pass it with --model");
            const double fps = opt->fps > 0 ? opt->fps : result_frame_rate(result);
            if (!(fps >= 0.01 && fps <= 10000))
              throw Error(fmt::format("a frame rate of {:g} fps is not a video's (from the frames' times): pass --fps", fps));
            const fs::path out = opt->output;
            ensure_writable_directory(out);

            // Everything is prepared before the first file is written: an error leaves the folder as it was.
            std::vector<std::uint8_t> glb;
            if (opt->glb || opt->html) glb = glb_bytes(model, tracks, fps);
            ViewerContent content;
            if (opt->html) {
              content.title = "monobody: " + fs::path(opt->input).filename().string();
              content.fps = fps;
              const FrameResult& first = result.frames.front();
              content.image_width = first.image_width;
              content.image_height = first.image_height;
              add_pictures(content, result, opt->images.empty() ? fs::path(opt->input).parent_path() : fs::path(opt->images));
              if (content.image_width <= 0 || content.image_height <= 0)
                throw Error("'" + opt->input + "' has no image_size and its picture was not found: cannot place the viewer's camera");
              content.camera = first.camera ? *first.camera : default_camera(content.image_width, content.image_height);
            }
            if (opt->bvh)
              for (const BodyTrack& track : tracks) write_bvh(out / fmt::format("person{}.bvh", track.id), model, track, fps);
            if (opt->glb) write_file_atomic(out / "scene.glb", std::string_view(reinterpret_cast<const char*>(glb.data()), glb.size()));
            if (opt->html) {
              content.glb = std::move(glb);
              write_viewer_html(out / "viewer.html", content);
            }
            int frames = 0;
            for (const BodyTrack& t : tracks) frames = std::max(frames, t.first_frame + int(t.poses.size()));
            spdlog::info("exported {} {} over {} frame{} at {:g} fps -> {}", tracks.size(),
                         tracks.size() == 1 ? "person" : "people", frames, frames == 1 ? "" : "s", fps, out.string());
          }};
}

}  // namespace monobody::cli
