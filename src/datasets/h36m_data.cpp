#include "monobody/h36m_data.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "monobody/error.hpp"
#include "monobody/files.hpp"

namespace monobody {
namespace fs = std::filesystem;

namespace {

H36mCamera parse_camera(const std::string& id, const nlohmann::json& j) {
  H36mCamera c;
  c.id = id;
  for (int r = 0; r < 3; ++r) {
    for (int k = 0; k < 3; ++k) c.pose.R(r, k) = j.at("R").at(r).at(k).get<double>();
    c.pose.t[r] = j.at("t").at(r).get<double>();
  }
  c.intrinsics.fx = j.at("f").at(0).get<double>();
  c.intrinsics.fy = j.at("f").at(1).get<double>();
  c.intrinsics.cx = j.at("c").at(0).get<double>();
  c.intrinsics.cy = j.at("c").at(1).get<double>();
  c.intrinsics.distortion = {j.at("k").at(0).get<double>(), j.at("k").at(1).get<double>(),
                             j.at("p").at(0).get<double>(), j.at("p").at(1).get<double>(),
                             j.at("k").at(2).get<double>()};
  c.width = j.at("image_size").at(0).get<int>();
  c.height = j.at("image_size").at(1).get<int>();
  return c;
}

}  // namespace

NpyArray<float> H36mSequence::detections(int camera) const {
  auto d = read_npy<float>(directory / (name + "." + cameras.at(std::size_t(camera)).id + ".sh2d.npy"));
  if (d.shape.size() != 3 || d.shape[0] != world.shape[0] || d.shape[1] != 16 || d.shape[2] != 2)
    throw Error("h36m: detections of " + subject + "/" + name + " do not have shape (T, 16, 2)");
  return d;
}

Eigen::Matrix3Xd H36mSequence::world_joints(int f) const {
  Eigen::Matrix3Xd p(3, 17);
  for (int j = 0; j < 17; ++j) p.col(j) << world.at({f, j, 0}), world.at({f, j, 1}), world.at({f, j, 2});
  return p;
}

Eigen::Matrix3Xd H36mSequence::camera_joints(int f, int camera) const {
  const CameraPose<double>& pose = cameras.at(std::size_t(camera)).pose;
  Eigen::Matrix3Xd p = world_joints(f);
  for (int j = 0; j < 17; ++j) p.col(j) = pose.to_camera(Eigen::Vector3d(p.col(j)));
  return p;
}

Eigen::Matrix2Xd H36mSequence::projected_joints(int f, int camera) const {
  const Eigen::Matrix3Xd p = camera_joints(f, camera);
  Eigen::Matrix2Xd px(2, 17);
  for (int j = 0; j < 17; ++j) px.col(j) = cameras.at(std::size_t(camera)).intrinsics.project(Eigen::Vector3d(p.col(j)));
  return px;
}

Keypoints2D h36m_detection(const NpyArray<float>& detections, int f) {
  Keypoints2D kp = Keypoints2D::zeros(JointSet::Mpii16);
  for (int j = 0; j < 16; ++j) kp.xy.col(j) << detections.at({f, j, 0}), detections.at({f, j, 1});
  kp.confidence.setOnes();
  return kp;
}

std::vector<H36mSequence> load_h36m(const fs::path& dir, const std::vector<std::string>& subjects) {
  if (!fs::is_directory(dir)) throw Error("Human3.6M data not found at '" + dir.string() + "'");
  const nlohmann::json index = read_json_file(dir / "index.json");
  const nlohmann::json cameras = read_json_file(dir / "cameras.json");
  std::vector<H36mSequence> out;
  try {
    for (const auto& subject : subjects) {
      if (!cameras.at("cameras").contains(subject))
        throw Error("Human3.6M subject '" + subject + "' is not in '" + dir.string() + "'");
      const auto& cams = cameras.at("cameras").at(subject);
      for (const auto& s : index.at("sequences")) {
        if (s.at("subject").get<std::string>() != subject) continue;
        H36mSequence seq;
        seq.subject = subject;
        seq.name = s.at("action").get<std::string>();
        seq.directory = dir / subject;
        seq.gt_offset_suspect = s.value("gt_offset_suspect", false);
        seq.world = read_npy<float>(seq.directory / (seq.name + ".pos3d_world.npy"));
        if (seq.world.shape.size() != 3 || seq.world.shape[1] != 17 || seq.world.shape[2] != 3)
          throw Error("h36m: " + subject + "/" + seq.name + " world joints do not have shape (T, 17, 3)");
        int c = 0;
        for (auto it = cams.begin(); it != cams.end() && c < kH36mCameraCount; ++it, ++c)
          seq.cameras[std::size_t(c)] = parse_camera(it.key(), it.value());
        if (c != kH36mCameraCount) throw Error("h36m: subject " + subject + " does not have four cameras");
        out.push_back(std::move(seq));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error("h36m: malformed index.json or cameras.json (" + std::string(e.what()) + ")");
  }
  return out;
}

}  // namespace monobody
