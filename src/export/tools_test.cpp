// The exported files as other tools read them: the Khronos glTF validator (npm gltf-validator) and Blender's
// BVH and glTF importers. Each test skips when its tool is absent.
#include <gtest/gtest.h>

#include "export_test_support.hpp"
#include "monobody/export.hpp"
#include "test_support.hpp"
#include "tool_runner.hpp"

namespace monobody {
namespace {
namespace fs = std::filesystem;

TEST(GltfValidator, ExportedFilesHaveNoErrorsOrWarnings) {
  const auto node = test::find_program("node");
  if (!node) GTEST_SKIP() << "node is absent (run scripts/setup.sh)";
  const fs::path validator = test::source_dir() / "third_party" / "npm" / "gltf-validator";
  if (!fs::exists(validator / "package.json")) GTEST_SKIP() << "gltf-validator is absent (run scripts/setup.sh)";
  const BodyModel& model = test::default_model();
  const fs::path dir = test::temp_dir("gltf_validator");
  // A video with two people (one entering late) and a photo.
  write_glb(dir / "video.glb", model, {test::random_track(model, 0, 0, 6, 21), test::random_track(model, 1, 3, 3, 22)}, 30);
  write_glb(dir / "photo.glb", model, {test::random_track(model, 4, 0, 1, 23)}, 30);
  // A vertex with six influences: two JOINTS/WEIGHTS sets.
  const BodyModel six = test::model_with_six_influences(model);
  write_glb(dir / "six_influences.glb", six, {test::random_track(six, 0, 0, 2, 24)}, 30);
  for (const char* name : {"video.glb", "photo.glb", "six_influences.glb"}) {
    const test::ProgramRun run = test::run_program(test::quoted(*node) + " " +
                                                   test::quoted(test::source_dir() / "src" / "export" / "validate_gltf.js") +
                                                   " " + test::quoted(dir / name) + " " + test::quoted(validator));
    ASSERT_EQ(run.exit_code, 0) << run.output;
    ASSERT_TRUE(test::field(run.output, "errors")) << run.output;
    EXPECT_EQ(*test::field(run.output, "errors"), "0") << name << "\n" << run.output;
    EXPECT_EQ(*test::field(run.output, "warnings"), "0") << name << "\n" << run.output;
    RecordProperty(std::string(name) + "_report", run.output.substr(0, run.output.find('\n')));
  }
}

TEST(Blender, ImportsTheBvhAndTheGlb) {
  const auto blender = test::find_program("blender");
  if (!blender) GTEST_SKIP() << "blender is absent (run scripts/setup.sh)";
  const BodyModel& model = test::default_model();
  const fs::path dir = test::temp_dir("blender");
  const BodyTrack track = test::random_track(model, 0, 0, 8, 31);
  write_bvh(dir / "person0.bvh", model, track, 25);
  write_glb(dir / "scene.glb", model, {track}, 25);
  const test::ProgramRun run = test::run_program(
      test::quoted(*blender) + " -b --factory-startup --python " +
      test::quoted(test::source_dir() / "src" / "export" / "blender_import.py") + " -- " +
      test::quoted(dir / "person0.bvh") + " " + test::quoted(dir / "scene.glb") + " 25");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::size_t bvh_at = run.output.find("monobody-check bvh"), gltf_at = run.output.find("monobody-check gltf");
  ASSERT_NE(bvh_at, std::string::npos) << run.output;
  ASSERT_NE(gltf_at, std::string::npos) << run.output;
  const std::string bvh = run.output.substr(bvh_at, run.output.find('\n', bvh_at) - bvh_at);
  const std::string gltf = run.output.substr(gltf_at, run.output.find('\n', gltf_at) - gltf_at);
  const std::string bones = std::to_string(model.num_joints());
  EXPECT_EQ(test::field(bvh, "armatures"), "1") << bvh;
  EXPECT_EQ(test::field(bvh, "bones"), bones) << bvh;
  EXPECT_EQ(test::field(bvh, "frames"), "1-8") << bvh;  // imported from frame 1
  EXPECT_EQ(test::field(gltf, "armatures"), "1") << gltf;
  EXPECT_EQ(test::field(gltf, "bones"), bones) << gltf;
  EXPECT_EQ(test::field(gltf, "meshes"), "1") << gltf;
  EXPECT_EQ(test::field(gltf, "frames"), "0-7") << gltf;  // keyframe k at k / 25 s, the scene at 25 fps
  RecordProperty("blender", bvh + " | " + gltf);
}

}  // namespace
}  // namespace monobody
