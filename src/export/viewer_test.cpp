// The HTML viewer opened in headless Chromium: the page must report no error, and its first frame must show
// the person where the camera projects them (in the mesh's colour) over the photo everywhere else.
#include <gtest/gtest.h>

#include "export_test_support.hpp"
#include "monobody/error.hpp"
#include "monobody/export.hpp"
#include "monobody/files.hpp"
#include "monobody/image_io.hpp"
#include "monobody/render.hpp"
#include "test_support.hpp"
#include "tool_runner.hpp"

namespace monobody {
namespace {
namespace fs = std::filesystem;

std::vector<std::uint8_t> file_bytes(const fs::path& path) {
  const std::string text = read_text_file(path);
  return {text.begin(), text.end()};
}

// A green picture with structure everywhere (so a misplaced background shows), unlike either person colour.
Image generated_picture(int width, int height) {
  Image image(width, height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      std::uint8_t* p = image.row(y) + 3 * x;
      const int checker = 40 * ((x / 16 + y / 16) % 2);
      p[0] = std::uint8_t(40 + checker);
      p[1] = std::uint8_t(120 + 80 * x / width + checker / 2);
      p[2] = std::uint8_t(30 + 60 * y / height);
    }
  return image;
}

// The mask grown (radius > 0) or shrunk (radius < 0) by |radius| pixels (square neighbourhood).
std::vector<std::uint8_t> morph(const std::vector<std::uint8_t>& mask, int width, int height, int radius) {
  const bool grow = radius > 0;
  const int r = std::abs(radius);
  std::vector<std::uint8_t> out(mask.size());
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      bool any = false, all = true;
      for (int dy = -r; dy <= r; ++dy)
        for (int dx = -r; dx <= r; ++dx) {
          const int u = std::clamp(x + dx, 0, width - 1), v = std::clamp(y + dy, 0, height - 1);
          const bool on = mask[std::size_t(v * width + u)] != 0;
          any |= on;
          all &= on;
        }
      out[std::size_t(y * width + x)] = (grow ? any : all) ? 255 : 0;
    }
  return out;
}

// Opens a page in headless Chromium (no sandbox as root, software WebGL, nothing from the network, a fresh
// profile) and returns the page's title once it settled; the screenshot goes to `shot`.
std::string open_in_chromium(const fs::path& program, const std::string& url, const fs::path& shot, int width,
                             int height) {
  const fs::path profile = shot.parent_path() / (shot.stem().string() + "-profile");
  const test::ProgramRun run = test::run_program(
      test::quoted(program) +
      " --headless --no-sandbox --disable-gpu --use-angle=swiftshader --enable-unsafe-swiftshader --disable-quic"
      " --no-first-run --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars"
      " --force-device-scale-factor=1 --virtual-time-budget=5000 --user-data-dir=" + test::quoted(profile) +
      " --window-size=" + std::to_string(width) + "," + std::to_string(height) + " --dump-dom --screenshot=" +
      test::quoted(shot) + " " + test::quoted(url));
  const std::size_t at = run.output.find("<title>");
  if (at == std::string::npos) return "no page: " + run.output.substr(0, 2000);
  return run.output.substr(at + 7, run.output.find("</title>", at) - at - 7);
}

// How the screenshot compares with the picture the page should show behind the person.
struct ShotCheck {
  double inside_changed = 0;       // fraction of the person's pixels that differ clearly from the picture
  Eigen::Vector3d inside_colour;   // their mean colour
  double outside_difference = 0;   // mean difference to the picture away from the person (grey levels)
  double inside_pixels = 0;
};

ShotCheck compare(const Image& shot, const Image& picture, const std::vector<std::uint8_t>& mask) {
  const int W = picture.width(), H = picture.height();
  // Shrunk and grown a little to leave out the anti-aliased outline.
  const std::vector<std::uint8_t> inside = morph(mask, W, H, -2), near = morph(mask, W, H, 3);
  ShotCheck check;
  check.inside_colour.setZero();
  double outside_pixels = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const std::uint8_t* s = shot.row(y) + 3 * x;
      const std::uint8_t* p = picture.row(y) + 3 * x;
      const double difference = (std::abs(s[0] - p[0]) + std::abs(s[1] - p[1]) + std::abs(s[2] - p[2])) / 3.0;
      const std::size_t i = std::size_t(y * W + x);
      if (inside[i]) {
        ++check.inside_pixels;
        check.inside_changed += difference > 25;
        check.inside_colour += Eigen::Vector3d(s[0], s[1], s[2]);
      } else if (!near[i] && !(y < 40 && x < 320)) {  // the buttons and slider sit in the top-left corner
        ++outside_pixels;
        check.outside_difference += difference;
      }
    }
  check.inside_changed /= std::max(1.0, check.inside_pixels);
  check.inside_colour /= std::max(1.0, check.inside_pixels);
  check.outside_difference /= std::max(1.0, outside_pixels);
  return check;
}

// Where the camera sees the posed person (software rasteriser, same camera).
std::vector<std::uint8_t> person_mask(const BodyModel& model, const BodyPose& pose, const PinholeCamera<double>& camera,
                                      int width, int height) {
  BodyPoser poser(model);
  poser.pose(pose);
  Rasterizer raster;
  raster.render(poser.vertices(), model.faces, camera, width, height);
  return raster.mask();
}

// The picture as the page receives it (JPEG) and as it should look decoded.
struct Picture {
  std::vector<std::uint8_t> jpeg;
  Image decoded;
};

Picture picture_from(const std::vector<std::uint8_t>& jpeg, const fs::path& dir, const std::string& name) {
  write_file_atomic(dir / name, std::string(jpeg.begin(), jpeg.end()));
  return {jpeg, read_image(dir / name)};
}

// The demo photo, else a generated picture of the same size.
Picture background(const fs::path& dir) {
  if (const auto messi = test::demo_file("messi5.jpg")) return picture_from(file_bytes(*messi), dir, "photo.jpg");
  return picture_from(jpeg_bytes(generated_picture(548, 342).view(), 95), dir, "photo.jpg");
}

#define CHROMIUM_AND_THREE_OR_SKIP(var)                                                             \
  const auto var##_found = test::find_program("chromium");                                         \
  if (!var##_found) GTEST_SKIP() << "chromium is absent (run scripts/setup.sh)";                    \
  if (!fs::exists(default_three_dir() / "build" / "three.min.js"))                                  \
    GTEST_SKIP() << "three.js is absent from " << default_three_dir() << " (run scripts/setup.sh)"; \
  const fs::path var = *var##_found

TEST(Viewer, ShowsThePersonOverThePhotoInHeadlessChromium) {
  CHROMIUM_AND_THREE_OR_SKIP(chromium);
  const BodyModel& model = test::default_model();
  const fs::path dir = test::temp_dir("viewer");
  const Picture photo = background(dir);
  const int W = photo.decoded.width(), H = photo.decoded.height();

  ViewerContent content;
  content.title = "monobody test </script> & viewer";  // must neither break the page nor the title
  content.frames_jpeg = {photo.jpeg};
  content.image_width = W;
  content.image_height = H;
  content.camera = default_camera(W, H);
  content.camera.cx += 20;  // an off-centre principal point must be honoured too
  content.camera.cy -= 10;
  // A person in a moderate pose with the hips 4.5 m in front of the camera, left of the axis (over the crowd
  // rather than the footballer, whose shirt is as blue as the mesh).
  BodyTrack track = test::random_track(model, 0, 0, 1, 77, 0.3);
  track.poses[0].translation = Eigen::Vector3d(-1.0, 0.0, 4.5) - model.rest_joints(track.shape).col(0);
  content.glb = glb_bytes(model, {track}, 30);
  write_viewer_html(dir / "viewer.html", content);

  const std::string title = open_in_chromium(chromium, "file://" + (dir / "viewer.html").string(), dir / "shot.png", W, H);
  ASSERT_EQ(title, "ready") << "the page reported: " << title;
  const Image shot = read_image(dir / "shot.png");
  ASSERT_EQ(shot.width(), W);
  ASSERT_EQ(shot.height(), H);
  const ShotCheck check = compare(shot, photo.decoded, person_mask(model, test::posed(track, 0), content.camera, W, H));
  ASSERT_GT(check.inside_pixels, 2000) << "the person should cover a good part of the picture";
  // Person 0's colour is (31, 119, 180): lit, it stays clearly blue.
  EXPECT_GT(check.inside_colour.z(), check.inside_colour.x() + 40) << check.inside_colour.transpose();
  EXPECT_GT(check.inside_changed, 0.9);
  // The photo seen through the same camera: JPEG decoding and texture sampling may leave a few grey levels.
  EXPECT_LT(check.outside_difference, 6.0);
  RecordProperty("inside_changed", std::to_string(check.inside_changed));
  RecordProperty("outside_mean_difference", std::to_string(check.outside_difference));
}

// A video opened at a frame (#frame=N): the person in that frame's pose over that frame's picture.
TEST(Viewer, VideoOpensAtTheLinkedFrame) {
  CHROMIUM_AND_THREE_OR_SKIP(chromium);
  const BodyModel& model = test::default_model();
  const fs::path dir = test::temp_dir("viewer_video");
  const Picture first = background(dir);
  const int W = first.decoded.width(), H = first.decoded.height();
  const Picture second = picture_from(jpeg_bytes(generated_picture(W, H).view(), 95), dir, "second.jpg");

  // Four frames, a picture every second frame; the person walks from the left to the right.
  BodyTrack track = test::random_track(model, 1, 0, 4, 78, 0.3);
  const Eigen::Vector3d root = model.rest_joints(track.shape).col(0);
  for (int f = 0; f < 4; ++f) track.poses[std::size_t(f)].translation = Eigen::Vector3d(-1.2 + 0.8 * f, 0.0, 4.5) - root;
  ViewerContent content;
  content.frames_jpeg = {first.jpeg, second.jpeg};
  content.frame_step = 2;
  content.image_width = W;
  content.image_height = H;
  content.camera = default_camera(W, H);
  content.glb = glb_bytes(model, {track}, 10);
  content.fps = 10;
  write_viewer_html(dir / "viewer.html", content);

  const std::string title =
      open_in_chromium(chromium, "file://" + (dir / "viewer.html").string() + "#frame=3", dir / "shot.png", W, H);
  ASSERT_EQ(title, "ready") << "the page reported: " << title;
  const Image shot = read_image(dir / "shot.png");
  const ShotCheck check = compare(shot, second.decoded, person_mask(model, test::posed(track, 3), content.camera, W, H));
  EXPECT_GT(check.inside_changed, 0.9);
  EXPECT_LT(check.outside_difference, 6.0);
  // Person 1's colour is orange (255, 127, 14).
  EXPECT_GT(check.inside_colour.x(), check.inside_colour.z() + 40) << check.inside_colour.transpose();
  RecordProperty("video_inside_changed", std::to_string(check.inside_changed));
  RecordProperty("video_outside_mean_difference", std::to_string(check.outside_difference));
}

// A script that throws must show in the title, or the tests above could not see a broken page.
TEST(Viewer, ScriptErrorsReachTheTitle) {
  CHROMIUM_AND_THREE_OR_SKIP(chromium);
  const fs::path dir = test::temp_dir("viewer_error");
  const fs::path three = dir / "three";
  fs::create_directories(three / "build");
  fs::create_directories(three / "examples" / "js" / "loaders");
  fs::create_directories(three / "examples" / "js" / "controls");
  fs::copy_file(default_three_dir() / "build" / "three.min.js", three / "build" / "three.min.js");
  fs::copy_file(default_three_dir() / "examples" / "js" / "loaders" / "GLTFLoader.js",
                three / "examples" / "js" / "loaders" / "GLTFLoader.js");
  write_file_atomic(three / "examples" / "js" / "controls" / "OrbitControls.js", "THREE.OrbitControls = undefined;\n");

  const BodyModel& model = test::default_model();
  ViewerContent content;
  content.image_width = 320;
  content.image_height = 240;
  content.camera = default_camera(320, 240);
  content.glb = glb_bytes(model, {test::random_track(model, 0, 0, 1, 1)}, 30);
  ::setenv("MONOBODY_THREE_DIR", three.c_str(), 1);
  write_viewer_html(dir / "viewer.html", content);
  ::unsetenv("MONOBODY_THREE_DIR");
  const std::string title = open_in_chromium(chromium, "file://" + (dir / "viewer.html").string(), dir / "shot.png", 320, 240);
  EXPECT_TRUE(title.starts_with("error: ")) << title;
  EXPECT_NE(title.find("OrbitControls"), std::string::npos) << title;
}

TEST(Viewer, MissingThreeJsIsAClearError) {
  const fs::path dir = test::temp_dir("viewer_missing");
  ::setenv("MONOBODY_THREE_DIR", (dir / "nowhere").c_str(), 1);
  ViewerContent content;
  content.glb = {1, 2, 3};
  try {
    write_viewer_html(dir / "v.html", content);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scripts/setup.sh"), std::string::npos) << e.what();
  }
  ::unsetenv("MONOBODY_THREE_DIR");
  EXPECT_FALSE(fs::exists(dir / "v.html"));
}

}  // namespace
}  // namespace monobody
