// The glTF writer: the file's structure against the specification's rules, and the mesh skinned from the file
// alone (node transforms, inverse bind matrices, weights) against BodyPoser.
#include <gtest/gtest.h>

#include "export_test_support.hpp"
#include "glb_reader.hpp"
#include "monobody/error.hpp"
#include "monobody/export.hpp"

namespace monobody {
namespace {
using nlohmann::json;

// Node-local transforms at keyframe k of the animation (or the nodes' own transforms without one).
std::vector<Eigen::Affine3d> local_transforms(const test::Glb& glb, std::size_t k) {
  json nodes = glb.gltf["nodes"];
  if (glb.gltf.contains("animations")) {
    const json& animation = glb.gltf["animations"][0];
    for (const json& channel : animation["channels"]) {
      const json& sampler = animation["samplers"][channel["sampler"].get<std::size_t>()];
      int components = 0;
      const std::vector<double> values = glb.accessor(sampler["output"], &components);
      const std::size_t count = values.size() / std::size_t(components);
      const std::size_t key = std::min(k, count - 1);
      const std::vector<double> value(values.begin() + long(key) * components, values.begin() + long(key + 1) * components);
      nodes[channel["target"]["node"].get<std::size_t>()][channel["target"]["path"].get<std::string>()] = value;
    }
  }
  std::vector<Eigen::Affine3d> local;
  for (const json& node : nodes) local.push_back(test::node_transform(node));
  return local;
}

// Largest distance (m) between the glb's skinned mesh of `mesh_node` at keyframe k and BodyPoser's vertices.
double max_vertex_error(const test::Glb& glb, int mesh_node, const BodyModel& model, const BodyTrack& track,
                        std::size_t k) {
  const Eigen::Matrix3Xd skinned = test::skin_mesh(glb, mesh_node, test::world_transforms(glb.gltf, local_transforms(glb, k)));
  BodyPoser poser(model);
  poser.pose(test::posed(track, k));
  return (skinned - test::export_from_camera() * poser.vertices()).colwise().norm().maxCoeff();
}

int node_named(const json& gltf, const std::string& name) {
  for (std::size_t n = 0; n < gltf["nodes"].size(); ++n)
    if (gltf["nodes"][n].value("name", "") == name) return int(n);
  return -1;
}

class GltfVideo : public ::testing::Test {
 protected:
  const BodyModel& model = test::default_model();
  std::vector<BodyTrack> tracks = {test::random_track(model, 0, 0, 5, 11), test::random_track(model, 3, 2, 3, 12)};
  const double fps = 25.0;
  test::Glb glb = test::parse_glb(glb_bytes(model, tracks, fps));
};

TEST_F(GltfVideo, Structure) {
  const json& g = glb.gltf;
  EXPECT_EQ(g["asset"]["version"], "2.0");
  // The JSON chunk is padded with spaces, the BIN chunk's length is the buffer's.
  EXPECT_EQ(glb.json_chunk.find_last_not_of(' '), glb.json_chunk.rfind('}'));
  EXPECT_EQ(g["buffers"][0]["byteLength"].get<std::size_t>(), glb.bin.size());
  ASSERT_EQ(g["skins"].size(), 2u);
  ASSERT_EQ(g["meshes"].size(), 2u);
  const int J = model.num_joints();
  for (std::size_t t = 0; t < 2; ++t) {
    const std::string prefix = "person" + std::to_string(tracks[t].id) + "/";
    const json& skin = g["skins"][t];
    ASSERT_EQ(int(skin["joints"].size()), J);
    EXPECT_EQ(skin["skeleton"], node_named(g, prefix + model.joint_names[0]));
    for (int j = 0; j < J; ++j) EXPECT_EQ(skin["joints"][std::size_t(j)], node_named(g, prefix + model.joint_names[std::size_t(j)]));
    EXPECT_EQ(g["accessors"][skin["inverseBindMatrices"].get<std::size_t>()]["count"], J);

    const json& primitive = g["meshes"][t]["primitives"][0];
    const json& position = g["accessors"][primitive["attributes"]["POSITION"].get<std::size_t>()];
    const std::vector<double> xyz = glb.accessor(primitive["attributes"]["POSITION"]);
    ASSERT_EQ(int(xyz.size()), 3 * model.num_vertices());
    for (std::size_t c = 0; c < 3; ++c) {
      double lo = xyz[c], hi = xyz[c];
      for (std::size_t i = c; i < xyz.size(); i += 3) lo = std::min(lo, xyz[i]), hi = std::max(hi, xyz[i]);
      EXPECT_EQ(position["min"][c].get<double>(), lo);
      EXPECT_EQ(position["max"][c].get<double>(), hi);
    }
    EXPECT_EQ(g["accessors"][primitive["attributes"]["JOINTS_0"].get<std::size_t>()]["componentType"], 5121);
    const std::vector<double> weights = glb.accessor(primitive["attributes"]["WEIGHTS_0"]);
    for (std::size_t v = 0; v < weights.size() / 4; ++v)  // float weights: sums within float rounding of 1
      ASSERT_NEAR(weights[4 * v] + weights[4 * v + 1] + weights[4 * v + 2] + weights[4 * v + 3], 1.0, 1e-6) << v;
    const std::vector<double> normals = glb.accessor(primitive["attributes"]["NORMAL"]);
    for (std::size_t v = 0; v < normals.size() / 3; ++v)
      ASSERT_NEAR(Eigen::Vector3d(normals[3 * v], normals[3 * v + 1], normals[3 * v + 2]).norm(), 1.0, 1e-6) << v;
    EXPECT_EQ(int(glb.accessor(primitive["indices"]).size()), 3 * int(model.faces.cols()));
  }

  ASSERT_EQ(g["animations"].size(), 1u);
  const json& animation = g["animations"][0];
  EXPECT_EQ(animation["channels"].size(), std::size_t(2 * (1 + J)));
  for (const json& channel : animation["channels"]) {
    const json& sampler = animation["samplers"][channel["sampler"].get<std::size_t>()];
    EXPECT_EQ(sampler["interpolation"], "LINEAR");
    const std::string node = g["nodes"][channel["target"]["node"].get<std::size_t>()]["name"];
    const std::vector<double> times = glb.accessor(sampler["input"]);
    const BodyTrack& track = node.starts_with("person3/") ? tracks[1] : tracks[0];
    ASSERT_EQ(times.size(), track.poses.size()) << node;
    for (std::size_t k = 0; k < times.size(); ++k) EXPECT_NEAR(times[k], (track.first_frame + double(k)) / fps, 1e-6);
    if (channel["target"]["path"] == "rotation") {
      const std::vector<double> q = glb.accessor(sampler["output"]);
      for (std::size_t k = 0; k < q.size() / 4; ++k)
        EXPECT_NEAR(Eigen::Vector4d(q[4 * k], q[4 * k + 1], q[4 * k + 2], q[4 * k + 3]).norm(), 1.0, 1e-6);
    } else {
      EXPECT_EQ(channel["target"]["path"], "translation");
      EXPECT_EQ(node.substr(node.find('/') + 1), model.joint_names[0]);
    }
  }
}

TEST_F(GltfVideo, MeshSkinnedFromTheFileMatchesBodyPoser) {
  // Float storage (about 1e-7 relative) is the only loss: 0.5 mm is far above it and far below a wrong joint.
  double worst = 0;
  for (std::size_t t = 0; t < 2; ++t) {
    const int mesh_node = node_named(glb.gltf, "person" + std::to_string(tracks[t].id));
    ASSERT_GE(mesh_node, 0);
    for (std::size_t k = 0; k < tracks[t].poses.size(); ++k)
      worst = std::max(worst, max_vertex_error(glb, mesh_node, model, tracks[t], k));
  }
  EXPECT_LT(worst, 5e-4);
  RecordProperty("max_vertex_error_mm", std::to_string(worst * 1000));
}

TEST(Gltf, PhotoHasNoAnimationAndNodesHoldThePose) {
  const BodyModel& model = test::default_model();
  const BodyTrack track = test::random_track(model, 7, 0, 1, 5);
  const test::Glb glb = test::parse_glb(glb_bytes(model, {track}, 30.0));
  EXPECT_FALSE(glb.gltf.contains("animations"));
  EXPECT_LT(max_vertex_error(glb, node_named(glb.gltf, "person7"), model, track, 0), 5e-4);
}

// Vertices with more than four influences (SMPL-like models) go into a second JOINTS/WEIGHTS set.
TEST(Gltf, MoreThanFourInfluencesUseASecondSet) {
  const BodyModel model = test::model_with_six_influences(test::default_model());
  const BodyTrack track = test::random_track(model, 0, 0, 2, 9);
  const test::Glb glb = test::parse_glb(glb_bytes(model, {track}, 30.0));
  const json& attributes = glb.gltf["meshes"][0]["primitives"][0]["attributes"];
  ASSERT_TRUE(attributes.contains("JOINTS_1"));
  ASSERT_TRUE(attributes.contains("WEIGHTS_1"));
  EXPECT_FALSE(attributes.contains("JOINTS_2"));
  for (std::size_t k = 0; k < 2; ++k) EXPECT_LT(max_vertex_error(glb, node_named(glb.gltf, "person0"), model, track, k), 5e-4);
}

TEST(Gltf, RejectsNoTracksAndBadFps) {
  const BodyModel& model = test::default_model();
  EXPECT_THROW(glb_bytes(model, {}, 30.0), Error);
  EXPECT_THROW(glb_bytes(model, {test::random_track(model, 0, 0, 2, 1)}, -1.0), Error);
}

}  // namespace
}  // namespace monobody
