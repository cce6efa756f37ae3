// `monobody export` driven as a user would: after `monobody fit` on a photo, and on a small synthetic video.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "export_test_support.hpp"
#include "glb_reader.hpp"
#include "monobody/files.hpp"
#include "monobody/result.hpp"
#include "test_support.hpp"
#include "tool_runner.hpp"

namespace monobody {
namespace {
namespace fs = std::filesystem;

test::ProgramRun run_cli(const std::string& args) { return test::run_program("'" + std::string(MONOBODY_CLI_PATH) + "' " + args); }

std::vector<std::uint8_t> file_bytes(const fs::path& path) {
  const std::string text = read_text_file(path);
  return {text.begin(), text.end()};
}

TEST(ExportCli, FitThenExportAPhoto) {
  const fs::path dir = test::temp_dir("export_cli_photo");
  fs::copy_file(test::source_dir() / "examples" / "messi5_coco17_by_hand.json", dir / "messi.json");
  const test::ProgramRun fit = run_cli("fit " + test::quoted(dir / "messi.json") + " -o " + test::quoted(dir / "fit"));
  ASSERT_EQ(fit.exit_code, 0) << fit.output;

  // Not fitted yet: a clear error and nothing written.
  const test::ProgramRun unfitted = run_cli("export " + test::quoted(dir / "messi.json") + " -o " + test::quoted(dir / "bad"));
  EXPECT_EQ(unfitted.exit_code, 1);
  EXPECT_NE(unfitted.output.find("run monobody fit first"), std::string::npos) << unfitted.output;
  EXPECT_FALSE(fs::exists(dir / "bad" / "scene.glb"));

  const auto photo = test::demo_file("messi5.jpg");
  const bool viewer = photo && fs::exists(default_three_dir() / "build" / "three.min.js");
  const test::ProgramRun run = run_cli("export " + test::quoted(dir / "fit" / "result.json") + " -o " +
                                       test::quoted(dir / "out") + " --bvh --glb" + (viewer ? " --html" : "") +
                                       (photo ? " --images " + test::quoted(photo->parent_path()) : ""));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(read_text_file(dir / "out" / "person0.bvh").find("Frames: 1\n"), std::string::npos);

  // The glb's root joint stands where the fitted body's root joint is (camera frame turned about x).
  const Result fitted = read_result(dir / "fit" / "result.json");
  const BodyParameters& body = *fitted.frames.at(0).people.at(0).body;
  BodyPoser poser(test::default_model());
  poser.pose({body.shape, body.pose, body.global_orient, body.translation});
  const test::Glb glb = test::parse_glb(file_bytes(dir / "out" / "scene.glb"));
  EXPECT_FALSE(glb.gltf.contains("animations"));
  const nlohmann::json& root = glb.gltf["nodes"][glb.gltf["skins"][0]["skeleton"].get<std::size_t>()];
  EXPECT_EQ(root["name"], "person0/" + test::default_model().joint_names[0]);
  const Eigen::Vector3d expected = test::export_from_camera() * poser.joints().col(0);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(root["translation"][std::size_t(c)].get<double>(), expected[c], 1e-6);

  if (!viewer) GTEST_SKIP() << "viewer not checked: the demo photo or three.js is absent (run scripts/setup.sh)";
  const std::string html = read_text_file(dir / "out" / "viewer.html");
  EXPECT_NE(html.find("\"pictures\":[\"/9j/"), std::string::npos) << "the photo as a base64 JPEG";
  EXPECT_NE(html.find("\"width\":548"), std::string::npos);
}

TEST(ExportCli, VideoResultGivesAnimationAtItsFrameRate) {
  const BodyModel& model = test::default_model();
  const fs::path dir = test::temp_dir("export_cli_video");
  const BodyTrack track = test::random_track(model, 2, 0, 10, 5);
  Result result;
  for (int f = 0; f < 10; ++f) {
    FrameResult frame;
    frame.source = "vtest.avi";
    frame.frame = f;
    frame.time = f / 10.0;
    frame.image_width = 768;
    frame.image_height = 576;
    Person person;
    person.id = 2;
    const BodyPose& p = track.poses[std::size_t(f)];
    person.body = BodyParameters{model.name, track.shape, p.pose, p.global_orient, p.translation};
    frame.people.push_back(person);
    result.frames.push_back(frame);
  }
  write_result(dir / "video.json", result);
  const auto video = test::demo_file("vtest.avi");
  const bool viewer = video && fs::exists(default_three_dir() / "build" / "three.min.js");
  const test::ProgramRun run = run_cli("export " + test::quoted(dir / "video.json") + " -o " + test::quoted(dir / "out") +
                                       " --bvh --glb" + (viewer ? " --html --images " + test::quoted(video->parent_path()) : ""));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string bvh = read_text_file(dir / "out" / "person2.bvh");
  EXPECT_NE(bvh.find("Frames: 10\nFrame Time: 0.10000000\n"), std::string::npos);
  const test::Glb glb = test::parse_glb(file_bytes(dir / "out" / "scene.glb"));
  ASSERT_TRUE(glb.gltf.contains("animations"));
  const auto& sampler = glb.gltf["animations"][0]["samplers"][0];
  EXPECT_NEAR(glb.gltf["accessors"][sampler["input"].get<std::size_t>()]["max"][0].get<double>(), 0.9, 1e-6);

  if (!viewer) GTEST_SKIP() << "viewer not checked: the demo video or three.js is absent (run scripts/setup.sh)";
  // One background picture per frame (JPEG, base64 "/9j/...").
  const std::string html = read_text_file(dir / "out" / "viewer.html");
  int pictures = 0;
  for (std::size_t at = html.find("\"/9j/"); at != std::string::npos; at = html.find("\"/9j/", at + 1)) ++pictures;
  EXPECT_EQ(pictures, 10);
  EXPECT_NE(html.find("\"frames\":10"), std::string::npos);
  EXPECT_NE(html.find("\"fps\":10.0"), std::string::npos);
}

// The animator's offline path: a video's keypoints (here a synthetic person moving from one random pose and place
// to another over 14 frames) fitted frame after frame by `monobody fit`, then exported as BVH. Every frame gets a
// body, the shape is held once it has settled over the first 10 fits, and the fits explain the keypoints.
TEST(ExportCli, FitThenExportAVideo) {
  const BodyModel& model = test::default_model();
  const BodyFitter fitter(model);
  const fs::path dir = test::temp_dir("export_cli_fit_video");
  constexpr int kFrames = 14;
  const BodyTrack ends = test::random_track(model, 5, 0, 2, 11, 0.3);
  PinholeCamera<double> camera;
  camera.fx = camera.fy = 900;
  camera.cx = 383.5;
  camera.cy = 287.5;
  Result result;
  BodyPoser poser(model);
  for (int f = 0; f < kFrames; ++f) {
    const double t = f / double(kFrames - 1);  // from one pose to the other
    const BodyPose& a = ends.poses[0];
    const BodyPose& b = ends.poses[1];
    poser.pose({ends.shape, (1 - t) * a.pose + t * b.pose, (1 - t) * a.global_orient + t * b.global_orient,
                (1 - t) * a.translation + t * b.translation});
    const Eigen::Matrix3Xd points = fitter.keypoints(poser, JointSet::BlazePose33);
    Person person;
    person.id = 5;
    person.keypoints2d = Keypoints2D::zeros(JointSet::BlazePose33);
    for (int i = 0; i < person.keypoints2d->size(); ++i)
      if (points.col(i).allFinite()) {
        person.keypoints2d->xy.col(i) = camera.project(Eigen::Vector3d(points.col(i)));
        person.keypoints2d->confidence[i] = 1.0;
      }
    FrameResult frame;
    frame.source = "vtest.avi";  // the overlay's picture, when the demo video is there
    frame.frame = f;
    frame.time = f / 10.0;
    frame.image_width = 768;
    frame.image_height = 576;
    frame.camera = camera;
    frame.people.push_back(person);
    result.frames.push_back(frame);
  }
  write_result(dir / "video.json", result);
  const auto demo_video = test::demo_file("vtest.avi");
  if (demo_video) fs::copy_file(*demo_video, dir / "vtest.avi");

  // A picture that cannot be read fails at once, and nothing is written.
  const test::ProgramRun missing = run_cli("fit " + test::quoted(dir / "video.json") + " --image " +
                                           test::quoted(dir / "missing.avi") + " -o " + test::quoted(dir / "bad"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_FALSE(fs::exists(dir / "bad" / "result.json"));

  // Nobody that can be fitted (every keypoint unseen): an error, and nothing is written.
  Result unseen = result;
  for (FrameResult& frame : unseen.frames) frame.people[0].keypoints2d->confidence.setZero();
  write_result(dir / "unseen.json", unseen);
  const test::ProgramRun nobody = run_cli("fit " + test::quoted(dir / "unseen.json") + " -o " + test::quoted(dir / "bad"));
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_NE(nobody.output.find("could be fitted"), std::string::npos) << nobody.output;
  EXPECT_FALSE(fs::exists(dir / "bad" / "result.json"));

  // A silhouette belongs to one photo: refused for a video, and nothing is written.
  const test::ProgramRun masked = run_cli("fit " + test::quoted(dir / "video.json") + " --mask " +
                                          test::quoted(dir / "video.json") + " -o " + test::quoted(dir / "bad"));
  EXPECT_EQ(masked.exit_code, 1);
  EXPECT_NE(masked.output.find("one photo's silhouette"), std::string::npos) << masked.output;
  EXPECT_FALSE(fs::exists(dir / "bad" / "result.json"));

  const test::ProgramRun fit = run_cli("fit " + test::quoted(dir / "video.json") + " -o " + test::quoted(dir / "fit"));
  ASSERT_EQ(fit.exit_code, 0) << fit.output;
  const Result fitted = read_result(dir / "fit" / "result.json");
  ASSERT_EQ(fitted.frames.size(), std::size_t(kFrames));
  std::vector<Eigen::VectorXd> shapes;
  for (const FrameResult& frame : fitted.frames) {
    ASSERT_EQ(frame.people.size(), 1u);
    const Person& person = frame.people[0];
    ASSERT_TRUE(person.body.has_value()) << "frame " << frame.frame;
    // Exact keypoints, explained to 1.6 to 2.2 px rms (measured; the priors pull a little); a fit that lost the
    // person is tens of pixels off.
    EXPECT_LT(person.extras.at("body_fit_keypoint_rms_px").get<double>(), 4.0) << "frame " << frame.frame;
    shapes.push_back(person.body->shape);
  }
  // The first 10 fits are free; from then on each has their median (per coefficient, the upper of the middle two).
  for (Eigen::Index k = 0; k < shapes[0].size(); ++k) {
    std::vector<double> first10;
    for (int f = 0; f < 10; ++f) first10.push_back(shapes[std::size_t(f)][k]);
    std::sort(first10.begin(), first10.end());
    for (int f = 10; f < kFrames; ++f) EXPECT_EQ(shapes[std::size_t(f)][k], first10[5]) << "frame " << f << ", coefficient " << k;
  }
  EXPECT_NE(shapes[0], shapes[10]);
  const cv::Mat overlay = cv::imread((dir / "fit" / "overlay.png").string());
  ASSERT_FALSE(overlay.empty());
  EXPECT_EQ(overlay.cols, 768);
  if (demo_video) {  // the first video frame behind the mesh: daylight, not black (mean brightness measured 120)
    EXPECT_GT(cv::mean(overlay)[1], 60.0);
  }
  EXPECT_FALSE(fs::exists(dir / "fit" / "person5.obj")) << "a video's motion goes to export, not to OBJs per frame";

  const test::ProgramRun run = run_cli("export " + test::quoted(dir / "fit" / "result.json") + " -o " +
                                       test::quoted(dir / "out") + " --bvh");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string bvh = read_text_file(dir / "out" / "person5.bvh");
  EXPECT_NE(bvh.find("Frames: 14\nFrame Time: 0.10000000\n"), std::string::npos);

  // An export that fails (a frame rate no video has) fails before it writes: the earlier files stay.
  const test::ProgramRun fast = run_cli("export " + test::quoted(dir / "fit" / "result.json") + " -o " +
                                        test::quoted(dir / "out") + " --bvh --fps 1e300");
  EXPECT_EQ(fast.exit_code, 1);
  EXPECT_NE(fast.output.find("not a video's"), std::string::npos) << fast.output;
  EXPECT_EQ(read_text_file(dir / "out" / "person5.bvh"), bvh);
}

}  // namespace
}  // namespace monobody
