// `monobody detect` and `monobody eval pck` driven as a user would.
#include <gtest/gtest.h>

#include <fstream>

#include "monobody/files.hpp"
#include "monobody/image_io.hpp"
#include "monobody/result.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {
namespace fs = std::filesystem;

using CliRun = test::CommandRun;
using test::slurp;

CliRun run_cli(const std::string& args, const std::string& env = "") {
  return test::run_command(env + " '" + std::string(MONOBODY_CLI_PATH) + "' " + args);
}

#define MODELS_OR_SKIP()                                               \
  MONOBODY_MODEL_FILE_OR_SKIP(detector_file, "pose_detection.tflite"); \
  MONOBODY_MODEL_FILE_OR_SKIP(landmark_file, "pose_landmark_full.tflite")

TEST(DetectCli, PhotoGivesJsonOverlayAndMask) {
  MODELS_OR_SKIP();
  MONOBODY_DEMO_FILE_OR_SKIP(photo, "basketball1.png");
  const fs::path out = test::temp_dir("detect_cli_photo");
  const CliRun run = run_cli("detect '" + photo.string() + "' -o '" + out.string() + "' --mask");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const Result result = read_result(out / "basketball1.json");
  ASSERT_EQ(result.frames.size(), 1u);
  const FrameResult& frame = result.frames[0];
  EXPECT_EQ(frame.image_width, 640);
  ASSERT_EQ(frame.people.size(), 2u);
  for (const Person& p : frame.people) {
    ASSERT_TRUE(p.keypoints2d);
    EXPECT_EQ(p.keypoints2d->joint_set, JointSet::BlazePose33);
    EXPECT_EQ(p.extras.at("world_landmarks").size(), 33u);
    EXPECT_EQ(p.extras.at("presence").size(), 33u);
    EXPECT_GT(p.score, 0.5);
  }
  const Image overlay = read_image(out / "basketball1.overlay.png");
  EXPECT_EQ(overlay.width(), 640);
  const Image mask = read_image(out / "basketball1.mask.png");
  // The left player's chest is in the mask; the empty wall in the middle is not.
  EXPECT_GT(mask.row(200)[3 * 80], 200);
  EXPECT_LT(mask.row(200)[3 * 320], 50);
}

TEST(DetectCli, NobodyInASinglePhotoIsAnError) {
  MODELS_OR_SKIP();
  const fs::path dir = test::temp_dir("detect_cli_nobody");
  Image grey(200, 150);
  std::fill(grey.data(), grey.data() + 200 * 150 * 3, std::uint8_t(90));
  write_image(dir / "wall.png", grey.view());
  // An earlier result of the same name (say, of another picture called wall.png) is left as it was.
  fs::create_directories(dir / "out");
  write_file_atomic(dir / "out" / "wall.json", "earlier");
  const CliRun run = run_cli("detect '" + (dir / "wall.png").string() + "' -o '" + (dir / "out").string() + "'");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("no person found"), std::string::npos) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_EQ(read_text_file(dir / "out" / "wall.json"), "earlier");
  EXPECT_FALSE(fs::exists(dir / "out" / "wall.overlay.png"));
}

TEST(DetectCli, CorruptModelIsOneLine) {
  MODELS_OR_SKIP();
  MONOBODY_DEMO_FILE_OR_SKIP(photo, "messi5.jpg");
  const fs::path models = test::temp_dir("detect_cli_models");
  fs::copy_file(detector_file, models / "pose_detection.tflite");
  write_file_atomic(models / "pose_landmark_full.tflite", "TFL3 not really a model");
  const CliRun run = run_cli("detect '" + photo.string() + "' -o '" + (models / "out").string() + "'",
                             "MONOBODY_MODELS='" + models.string() + "'");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("pose_landmark_full.tflite"), std::string::npos) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
}

TEST(DetectCli, VideoFramesAndFolders) {
  MODELS_OR_SKIP();
  MONOBODY_DEMO_FILE_OR_SKIP(photo, "messi5.jpg");
  MONOBODY_DEMO_FILE_OR_SKIP(other, "basketball1.png");
  const fs::path dir = test::temp_dir("detect_cli_folder");
  fs::copy_file(photo, dir / "a.jpg");
  fs::copy_file(other, dir / "b.png");
  write_file_atomic(dir / "c.jpg", "not an image");
  const CliRun run = run_cli("-q detect '" + dir.string() + "' -o '" + (dir / "out").string() + "' --model lite");
  // The readable photos are done, and the exit code says that one was not (as `run` does).
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("1 of 3 images"), std::string::npos) << run.err;
  EXPECT_EQ(read_result(dir / "out" / "a.json").frames[0].people.size(), 1u);
  EXPECT_EQ(read_result(dir / "out" / "b.json").frames[0].people.size(), 2u);
  EXPECT_FALSE(fs::exists(dir / "out" / "c.json"));
}

TEST(DetectCli, EvalPckOnAFewLspetImages) {
  MODELS_OR_SKIP();
  MONOBODY_SHARED_FILE_OR_SKIP(labels, "images/dev/lspet/lspet_dev.json");
  const fs::path dir = test::temp_dir("detect_cli_pck");
  const CliRun run = run_cli("eval pck '" + labels.string() + "' --limit 5 --model lite --passes 0 -o '" +
                             (dir / "pck.json").string() + "'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("head_top"), std::string::npos) << run.out;
  const auto report = read_json_file(dir / "pck.json");
  EXPECT_EQ(report.at("images").get<int>(), 5);
  EXPECT_GE(report.at("pck@0.2").get<double>(), 0.0);
  EXPECT_LE(report.at("pck@0.2").get<double>(), 1.0);
}

}  // namespace
}  // namespace monobody
