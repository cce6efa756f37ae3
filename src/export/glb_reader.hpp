// Test-only reading of a glTF binary: the chunks, typed accessors and the skinning of a mesh from node
// transforms, written from the glTF 2.0 specification for checking monobody's writer.
#pragma once

#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "monobody/error.hpp"

namespace monobody::test {

struct Glb {
  nlohmann::json gltf;
  std::string json_chunk;  // as stored, padding included
  std::vector<std::uint8_t> bin;

  // Reads an accessor's elements as doubles, row by row (element i's components at i * components + c).
  std::vector<double> accessor(int index, int* components = nullptr) const {
    const nlohmann::json& a = gltf.at("accessors").at(std::size_t(index));
    const nlohmann::json& view = gltf.at("bufferViews").at(a.at("bufferView").get<std::size_t>());
    static const std::map<std::string, int> sizes = {{"SCALAR", 1}, {"VEC2", 2}, {"VEC3", 3}, {"VEC4", 4}, {"MAT4", 16}};
    const int n = sizes.at(a.at("type").get<std::string>());
    if (components) *components = n;
    const int type = a.at("componentType");
    const std::size_t bytes = type == 5126 || type == 5125 ? 4 : type == 5123 ? 2 : 1;
    const std::size_t count = a.at("count");
    const std::size_t start = view.value("byteOffset", std::size_t(0)) + a.value("byteOffset", std::size_t(0));
    if (start + count * std::size_t(n) * bytes > bin.size() ||
        count * std::size_t(n) * bytes > view.at("byteLength").get<std::size_t>())
      throw Error("accessor " + std::to_string(index) + " is out of its buffer view");
    std::vector<double> out;
    for (std::size_t i = 0; i < count * std::size_t(n); ++i) {
      const std::uint8_t* p = bin.data() + start + i * bytes;
      if (type == 5126) {
        float f;
        std::memcpy(&f, p, 4);
        out.push_back(f);
      } else if (type == 5125) {
        std::uint32_t u;
        std::memcpy(&u, p, 4);
        out.push_back(u);
      } else if (type == 5123) {
        std::uint16_t u;
        std::memcpy(&u, p, 2);
        out.push_back(u);
      } else {
        out.push_back(*p);
      }
    }
    return out;
  }
};

inline std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}

inline Glb parse_glb(const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < 28 || le32(&bytes[0]) != 0x46546C67) throw Error("not a GLB");
  if (le32(&bytes[4]) != 2) throw Error("GLB version is not 2");
  if (le32(&bytes[8]) != bytes.size()) throw Error("GLB length field differs from the size");
  Glb glb;
  const std::uint32_t json_length = le32(&bytes[12]);
  if (le32(&bytes[16]) != 0x4E4F534A || json_length % 4) throw Error("bad JSON chunk header");
  glb.json_chunk.assign(bytes.begin() + 20, bytes.begin() + 20 + json_length);
  glb.gltf = nlohmann::json::parse(glb.json_chunk);
  const std::size_t bin_at = 20 + json_length;
  if (bin_at + 8 > bytes.size()) return glb;
  const std::uint32_t bin_length = le32(&bytes[bin_at]);
  if (le32(&bytes[bin_at + 4]) != 0x004E4942 || bin_length % 4 || bin_at + 8 + bin_length != bytes.size())
    throw Error("bad BIN chunk");
  glb.bin.assign(bytes.begin() + long(bin_at) + 8, bytes.end());
  return glb;
}

// Node-local transform from translation / rotation (x, y, z, w) / scale, or a matrix.
inline Eigen::Affine3d node_transform(const nlohmann::json& node) {
  Eigen::Affine3d m = Eigen::Affine3d::Identity();
  if (node.contains("matrix")) {
    Eigen::Matrix4d mat;
    for (int i = 0; i < 16; ++i) mat.data()[i] = node["matrix"][std::size_t(i)];
    m.matrix() = mat;
    return m;
  }
  const auto t = node.value("translation", std::vector<double>{0, 0, 0});
  const auto r = node.value("rotation", std::vector<double>{0, 0, 0, 1});
  const auto s = node.value("scale", std::vector<double>{1, 1, 1});
  m.translate(Eigen::Vector3d(t[0], t[1], t[2]));
  m.rotate(Eigen::Quaterniond(r[3], r[0], r[1], r[2]));
  m.scale(Eigen::Vector3d(s[0], s[1], s[2]));
  return m;
}

// World transforms of all nodes, from the scene's root nodes down, with node-local transforms `local`.
inline std::vector<Eigen::Affine3d> world_transforms(const nlohmann::json& gltf, const std::vector<Eigen::Affine3d>& local) {
  std::vector<Eigen::Affine3d> world(local.size(), Eigen::Affine3d::Identity());
  std::function<void(int, const Eigen::Affine3d&)> visit = [&](int n, const Eigen::Affine3d& parent) {
    world[std::size_t(n)] = parent * local[std::size_t(n)];
    for (int c : gltf["nodes"][std::size_t(n)].value("children", std::vector<int>{})) visit(c, world[std::size_t(n)]);
  };
  for (int n : gltf["scenes"][0]["nodes"]) visit(n, Eigen::Affine3d::Identity());
  return world;
}

// Linear blend skinning of a mesh node's primitive 0 as the glTF specification defines it:
// sum over influences of weight * (world(joint) * inverse bind matrix) * position.
inline Eigen::Matrix3Xd skin_mesh(const Glb& glb, int mesh_node, const std::vector<Eigen::Affine3d>& world) {
  const nlohmann::json& gltf = glb.gltf;
  const nlohmann::json& node = gltf["nodes"][std::size_t(mesh_node)];
  const nlohmann::json& skin = gltf["skins"][node["skin"].get<std::size_t>()];
  const nlohmann::json& attributes = gltf["meshes"][node["mesh"].get<std::size_t>()]["primitives"][0]["attributes"];
  const std::vector<double> ibm = glb.accessor(skin["inverseBindMatrices"]);
  std::vector<Eigen::Affine3d> joint_matrix;
  for (std::size_t j = 0; j < skin["joints"].size(); ++j) {
    Eigen::Affine3d inverse_bind;
    for (int i = 0; i < 16; ++i) inverse_bind.matrix().data()[i] = ibm[16 * j + std::size_t(i)];
    joint_matrix.push_back(world[skin["joints"][j].get<std::size_t>()] * inverse_bind);
  }
  const std::vector<double> positions = glb.accessor(attributes["POSITION"]);
  const std::size_t V = positions.size() / 3;
  Eigen::Matrix3Xd out = Eigen::Matrix3Xd::Zero(3, long(V));
  for (int set = 0; attributes.contains("JOINTS_" + std::to_string(set)); ++set) {
    const std::vector<double> joints = glb.accessor(attributes["JOINTS_" + std::to_string(set)]);
    const std::vector<double> weights = glb.accessor(attributes["WEIGHTS_" + std::to_string(set)]);
    for (std::size_t v = 0; v < V; ++v) {
      const Eigen::Vector3d p(positions[3 * v], positions[3 * v + 1], positions[3 * v + 2]);
      for (std::size_t k = 0; k < 4; ++k)
        out.col(long(v)) += weights[4 * v + k] * (joint_matrix[std::size_t(joints[4 * v + k])] * p);
    }
  }
  return out;
}

}  // namespace monobody::test
