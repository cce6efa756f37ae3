// BVH: the model's skeleton (offsets for the track's shape) and one line of channels per frame.
#include <fmt/format.h>

#include <cmath>
#include <functional>

#include "export_frames.hpp"
#include "monobody/error.hpp"
#include "monobody/export.hpp"
#include "monobody/files.hpp"

namespace monobody {

namespace {

constexpr double kDegrees = 180.0 / M_PI;

// BVH channel order "Zrotation Xrotation Yrotation": the rotation is Rz * Rx * Ry.
Eigen::Vector3d zxy_degrees(const Eigen::Matrix3d& R) { return matrix_to_euler(R, "ZXY") * kDegrees; }

// Three numbers with 6 decimals (micrometres, micro-degrees); what rounds to zero is written "0.000000", not
// "-0.000000".
std::string triple(const Eigen::Vector3d& v) {
  auto clean = [](double x) { return std::abs(x) < 5e-7 ? 0.0 : x; };
  return fmt::format("{:.6f} {:.6f} {:.6f}", clean(v.x()), clean(v.y()), clean(v.z()));
}

}  // namespace

void write_bvh(const std::filesystem::path& path, const BodyModel& model, const BodyTrack& track, double fps) {
  detail::check_track(model, track);
  detail::check_fps(fps);
  const int J = model.num_joints();
  const Eigen::Matrix3Xd rest = model.rest_joints(track.shape);
  auto children = std::vector<std::vector<int>>(std::size_t(J));
  for (int j = 1; j < J; ++j) children[std::size_t(model.parents[std::size_t(j)])].push_back(j);

  fmt::memory_buffer out;
  auto line = [&out](int depth, std::string_view text) {
    fmt::format_to(std::back_inserter(out), "{:\t>{}}{}\n", "", depth, text);
  };
  std::vector<int> order;  // joints in the order of the hierarchy, which is the order of the motion channels
  std::function<void(int, int)> write_joint = [&](int j, int depth) {
    order.push_back(j);
    const int p = model.parents[std::size_t(j)];
    // The root's offset is zero so that readers that add it to the position channels and readers that do not
    // agree; its place is all in the position channels.
    const Eigen::Vector3d offset = p < 0 ? Eigen::Vector3d::Zero() : Eigen::Vector3d(rest.col(j) - rest.col(p));
    line(depth, (p < 0 ? "ROOT " : "JOINT ") + model.joint_names[std::size_t(j)]);
    line(depth, "{");
    line(depth + 1, "OFFSET " + triple(offset));
    line(depth + 1, p < 0 ? "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
                          : "CHANNELS 3 Zrotation Xrotation Yrotation");
    for (int c : children[std::size_t(j)]) write_joint(c, depth + 1);
    if (children[std::size_t(j)].empty()) {
      // A leaf's end continues its incoming bone by half its length: viewers draw the leaf bone with it.
      const Eigen::Vector3d end = p < 0 ? Eigen::Vector3d(0, 0.1, 0) : Eigen::Vector3d(0.5 * offset);
      line(depth + 1, "End Site");
      line(depth + 1, "{");
      line(depth + 2, "OFFSET " + triple(end));
      line(depth + 1, "}");
    }
    line(depth, "}");
  };
  out.append(std::string_view("HIERARCHY\n"));
  write_joint(0, 0);

  fmt::format_to(std::back_inserter(out), "MOTION\nFrames: {}\nFrame Time: {:.8f}\n", track.poses.size(), 1.0 / fps);
  for (const BodyPose& pose : track.poses) {
    const Eigen::Vector3d position = detail::export_root_position(rest, pose);
    out.append(triple(position));
    for (int j : order) {
      const Eigen::Matrix3d R = j == 0 ? detail::export_root_rotation(pose)
                                       : axis_angle_to_matrix<double>(Eigen::Vector3d(pose.pose.segment<3>(3 * j)));
      out.push_back(' ');
      out.append(triple(zxy_degrees(R)));
    }
    out.push_back('\n');
  }
  write_file_atomic(path, std::string_view(out.data(), out.size()));
}

}  // namespace monobody
