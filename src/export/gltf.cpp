// glTF 2.0 binary: one skinned mesh per track and one animation for all of them.
//
// Every accessor gets its own tightly packed buffer view, 4-byte aligned, so no byteStride is needed. Node
// transforms hold the first frame, so that viewers that do not play animations still show the first pose.
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "export_frames.hpp"
#include "monobody/draw.hpp"
#include "monobody/error.hpp"
#include "monobody/export.hpp"
#include "monobody/files.hpp"

namespace monobody {

namespace {
using nlohmann::json;

constexpr int kFloat = 5126, kUnsignedByte = 5121, kUnsignedShort = 5123, kUnsignedInt = 5125;
constexpr int kArrayBuffer = 34962, kElementArrayBuffer = 34963;

class GltfBuilder {
 public:
  json gltf = {{"asset", {{"version", "2.0"}, {"generator", std::string("monobody ") + MONOBODY_VERSION}}}};
  std::string bin;

  // An accessor over `count` elements of `type` ("SCALAR", "VEC3", ...) stored in a new buffer view.
  template <typename T>
  int add_accessor(const std::vector<T>& data, int component_type, const char* type, int components,
                   std::optional<int> target = std::nullopt, bool with_bounds = false) {
    bin.resize((bin.size() + 3) / 4 * 4, '\0');
    json view = {{"buffer", 0}, {"byteOffset", bin.size()}, {"byteLength", data.size() * sizeof(T)}};
    if (target) view["target"] = *target;
    bin.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(T));
    gltf["bufferViews"].push_back(view);
    json accessor = {{"bufferView", gltf["bufferViews"].size() - 1},
                     {"componentType", component_type},
                     {"count", data.size() / std::size_t(components)},
                     {"type", type}};
    if (with_bounds) {  // the bounds of exactly the stored values, as validators recompute them
      std::vector<T> lo(data.begin(), data.begin() + components), hi = lo;
      for (std::size_t i = 0; i < data.size(); ++i) {
        lo[i % std::size_t(components)] = std::min(lo[i % std::size_t(components)], data[i]);
        hi[i % std::size_t(components)] = std::max(hi[i % std::size_t(components)], data[i]);
      }
      accessor["min"] = lo;
      accessor["max"] = hi;
    }
    gltf["accessors"].push_back(accessor);
    return int(gltf["accessors"].size()) - 1;
  }

  int add(const char* kind, json object) {
    gltf[kind].push_back(std::move(object));
    return int(gltf[kind].size()) - 1;
  }

  std::vector<std::uint8_t> glb() {
    bin.resize((bin.size() + 3) / 4 * 4, '\0');
    gltf["buffers"] = json::array({{{"byteLength", bin.size()}}});
    std::string text = gltf.dump();
    text.resize((text.size() + 3) / 4 * 4, ' ');
    std::vector<std::uint8_t> out;
    auto u32 = [&out](std::uint32_t v) {
      for (int b = 0; b < 4; ++b) out.push_back(std::uint8_t(v >> (8 * b)));
    };
    u32(0x46546C67);  // "glTF"
    u32(2);
    u32(std::uint32_t(12 + 8 + text.size() + 8 + bin.size()));
    u32(std::uint32_t(text.size()));
    u32(0x4E4F534A);  // "JSON"
    out.insert(out.end(), text.begin(), text.end());
    u32(std::uint32_t(bin.size()));
    u32(0x004E4942);  // "BIN\0"
    out.insert(out.end(), bin.begin(), bin.end());
    return out;
  }
};

std::vector<float> to_floats(const Eigen::Matrix3Xd& m) {
  std::vector<float> out(std::size_t(m.size()));
  for (long i = 0; i < m.size(); ++i) out[std::size_t(i)] = float(m.data()[i]);
  return out;
}

// Area-weighted vertex normals; vertices on no triangle get +y (glTF requires unit normals everywhere).
Eigen::Matrix3Xd vertex_normals(const Eigen::Matrix3Xd& vertices, const Eigen::Matrix3Xi& faces) {
  Eigen::Matrix3Xd normals = Eigen::Matrix3Xd::Zero(3, vertices.cols());
  for (long f = 0; f < faces.cols(); ++f) {
    const Eigen::Vector3d a = vertices.col(faces(0, f)), b = vertices.col(faces(1, f)), c = vertices.col(faces(2, f));
    const Eigen::Vector3d n = (b - a).cross(c - a);
    for (int k = 0; k < 3; ++k) normals.col(faces(k, f)) += n;
  }
  for (long v = 0; v < normals.cols(); ++v) {
    const double norm = normals.col(v).norm();
    normals.col(v) = norm > 0 ? Eigen::Vector3d(normals.col(v) / norm) : Eigen::Vector3d::UnitY();
  }
  return normals;
}

std::array<float, 4> quaternion_xyzw(const Eigen::Matrix3d& R) {
  const Eigen::Quaterniond q = Eigen::Quaterniond(R).normalized();
  return {float(q.x()), float(q.y()), float(q.z()), float(q.w())};
}

// glTF's base colours are linear; the palette is sRGB.
double srgb_to_linear(std::uint8_t c) {
  const double s = c / 255.0;
  return s <= 0.04045 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4);
}

Eigen::Matrix3d local_rotation(const BodyPose& pose, int joint) {
  return joint == 0 ? detail::export_root_rotation(pose)
                    : axis_angle_to_matrix<double>(Eigen::Vector3d(pose.pose.segment<3>(3 * joint)));
}

struct TrackNodes {
  int root = 0;  // node index of joint 0; joint j is node root + j
};

// The mesh, skin, material and nodes of one track; returns the node of its root joint.
TrackNodes add_track(GltfBuilder& b, const BodyModel& model, const BodyTrack& track) {
  const int J = model.num_joints(), V = model.num_vertices();
  const std::string prefix = "person" + std::to_string(track.id);
  Eigen::Matrix3Xd rest_vertices;
  model.shaped_vertices(track.shape, rest_vertices);
  const Eigen::Matrix3Xd rest = model.rest_joints(track.shape);

  json attributes = {{"POSITION", b.add_accessor(to_floats(rest_vertices), kFloat, "VEC3", 3, kArrayBuffer, true)},
                     {"NORMAL", b.add_accessor(to_floats(vertex_normals(rest_vertices, model.faces)), kFloat, "VEC3", 3,
                                               kArrayBuffer)}};
  // Skin influences in sets of four (JOINTS_n / WEIGHTS_n); unused slots are joint 0 with weight 0.
  int most = 0;
  for (int v = 0; v < V; ++v) most = std::max(most, model.skin_offset[std::size_t(v + 1)] - model.skin_offset[std::size_t(v)]);
  const int sets = std::max(1, (most + 3) / 4);
  for (int set = 0; set < sets; ++set) {
    std::vector<float> weights(std::size_t(4 * V), 0.0f);
    std::vector<std::uint8_t> joints8(J <= 256 ? std::size_t(4 * V) : 0, 0);
    std::vector<std::uint16_t> joints16(J <= 256 ? 0 : std::size_t(4 * V), 0);
    for (int v = 0; v < V; ++v) {
      const int begin = model.skin_offset[std::size_t(v)] + 4 * set;
      for (int k = begin; k < std::min(begin + 4, model.skin_offset[std::size_t(v + 1)]); ++k) {
        const std::size_t slot = std::size_t(4 * v + k - begin);
        weights[slot] = float(model.skin_weight[std::size_t(k)]);
        if (weights[slot] == 0.0f) continue;
        if (J <= 256) joints8[slot] = std::uint8_t(model.skin_joint[std::size_t(k)]);
        else joints16[slot] = std::uint16_t(model.skin_joint[std::size_t(k)]);
      }
    }
    const std::string n = std::to_string(set);
    attributes["JOINTS_" + n] = J <= 256 ? b.add_accessor(joints8, kUnsignedByte, "VEC4", 4, kArrayBuffer)
                                         : b.add_accessor(joints16, kUnsignedShort, "VEC4", 4, kArrayBuffer);
    attributes["WEIGHTS_" + n] = b.add_accessor(weights, kFloat, "VEC4", 4, kArrayBuffer);
  }
  int indices = 0;
  if (V < 65535) {  // 65535 is the primitive restart value of unsigned shorts
    std::vector<std::uint16_t> index(model.faces.data(), model.faces.data() + model.faces.size());
    indices = b.add_accessor(index, kUnsignedShort, "SCALAR", 1, kElementArrayBuffer);
  } else {
    std::vector<std::uint32_t> index(model.faces.data(), model.faces.data() + model.faces.size());
    indices = b.add_accessor(index, kUnsignedInt, "SCALAR", 1, kElementArrayBuffer);
  }

  const Rgb color = person_color(track.id);
  const int material = b.add("materials", {{"name", prefix},
                                           {"pbrMetallicRoughness",
                                            {{"baseColorFactor", {srgb_to_linear(color[0]), srgb_to_linear(color[1]),
                                                                  srgb_to_linear(color[2]), 1.0}},
                                             {"metallicFactor", 0.0},
                                             {"roughnessFactor", 0.7}}}});
  const int mesh = b.add("meshes", {{"name", prefix},
                                    {"primitives", json::array({{{"attributes", attributes},
                                                                 {"indices", indices},
                                                                 {"material", material},
                                                                 {"mode", 4}}})}});

  // The rest pose has identity rotations, so binding a joint is just moving its rest position to the origin.
  std::vector<float> inverse_bind;
  for (int j = 0; j < J; ++j) {
    Eigen::Matrix4f m = Eigen::Matrix4f::Identity();
    m.topRightCorner<3, 1>() = -rest.col(j).cast<float>();
    inverse_bind.insert(inverse_bind.end(), m.data(), m.data() + 16);  // column-major, as glTF wants
  }

  TrackNodes nodes;
  nodes.root = int(b.gltf["nodes"].size());
  const BodyPose& first = track.poses.front();
  for (int j = 0; j < J; ++j) {
    const int p = model.parents[std::size_t(j)];
    const Eigen::Vector3d translation =
        p < 0 ? detail::export_root_position(rest, first) : Eigen::Vector3d(rest.col(j) - rest.col(p));
    json node = {{"name", prefix + "/" + model.joint_names[std::size_t(j)]},
                 {"translation", {translation.x(), translation.y(), translation.z()}},
                 {"rotation", quaternion_xyzw(local_rotation(first, j))}};
    for (int c = j + 1; c < J; ++c)
      if (model.parents[std::size_t(c)] == j) node["children"].push_back(nodes.root + c);
    b.add("nodes", node);
  }
  json joints = json::array();
  for (int j = 0; j < J; ++j) joints.push_back(nodes.root + j);
  const int skin = b.add("skins", {{"name", prefix},
                                   {"inverseBindMatrices", b.add_accessor(inverse_bind, kFloat, "MAT4", 16)},
                                   {"joints", joints},
                                   {"skeleton", nodes.root}});
  // The skinned mesh's node sits at the scene root: glTF ignores its transform and uses the joints'.
  const int mesh_node = b.add("nodes", {{"name", prefix}, {"mesh", mesh}, {"skin", skin}});
  b.gltf["scenes"][0]["nodes"].push_back(mesh_node);
  b.gltf["scenes"][0]["nodes"].push_back(nodes.root);
  return nodes;
}

void add_animation(GltfBuilder& b, const BodyModel& model, const std::vector<BodyTrack>& tracks,
                   const std::vector<TrackNodes>& nodes, double fps) {
  json samplers = json::array(), channels = json::array();
  auto channel = [&](int input, int output, int node, const char* path) {
    samplers.push_back({{"input", input}, {"output", output}, {"interpolation", "LINEAR"}});
    channels.push_back({{"sampler", samplers.size() - 1}, {"target", {{"node", node}, {"path", path}}}});
  };
  for (std::size_t t = 0; t < tracks.size(); ++t) {
    const BodyTrack& track = tracks[t];
    const Eigen::Matrix3Xd rest = model.rest_joints(track.shape);
    std::vector<float> times, positions;
    for (std::size_t k = 0; k < track.poses.size(); ++k) {
      times.push_back(float(double(track.first_frame + long(k)) / fps));
      const Eigen::Vector3d p = detail::export_root_position(rest, track.poses[k]);
      positions.insert(positions.end(), {float(p.x()), float(p.y()), float(p.z())});
    }
    const int input = b.add_accessor(times, kFloat, "SCALAR", 1, std::nullopt, true);
    channel(input, b.add_accessor(positions, kFloat, "VEC3", 3), nodes[t].root, "translation");
    for (int j = 0; j < model.num_joints(); ++j) {
      std::vector<float> rotations;
      std::array<float, 4> previous = {0, 0, 0, 1};
      for (const BodyPose& pose : track.poses) {
        std::array<float, 4> q = quaternion_xyzw(local_rotation(pose, j));
        // q and -q are the same rotation; keeping neighbours on one side makes interpolation take the short way.
        if (q[0] * previous[0] + q[1] * previous[1] + q[2] * previous[2] + q[3] * previous[3] < 0)
          for (float& c : q) c = -c;
        rotations.insert(rotations.end(), q.begin(), q.end());
        previous = q;
      }
      channel(input, b.add_accessor(rotations, kFloat, "VEC4", 4), nodes[t].root + j, "rotation");
    }
  }
  b.add("animations", {{"name", "motion"}, {"samplers", samplers}, {"channels", channels}});
}

}  // namespace

std::vector<std::uint8_t> glb_bytes(const BodyModel& model, const std::vector<BodyTrack>& tracks, double fps) {
  if (tracks.empty()) throw Error("nothing to export: no person has body parameters");
  detail::check_fps(fps);
  for (const BodyTrack& track : tracks) detail::check_track(model, track);
  GltfBuilder b;
  b.gltf["scene"] = 0;
  b.gltf["scenes"] = json::array({{{"name", "monobody"}, {"nodes", json::array()}}});
  std::vector<TrackNodes> nodes;
  for (const BodyTrack& track : tracks) nodes.push_back(add_track(b, model, track));
  const bool moving = std::any_of(tracks.begin(), tracks.end(), [](const BodyTrack& t) { return t.poses.size() > 1; });
  if (moving) add_animation(b, model, tracks, nodes, fps);
  return b.glb();
}

void write_glb(const std::filesystem::path& path, const BodyModel& model, const std::vector<BodyTrack>& tracks,
               double fps) {
  const std::vector<std::uint8_t> bytes = glb_bytes(model, tracks, fps);
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace monobody
