// The plain types of detect.hpp: model names, keypoints and boxes of a pose, heatmaps in the image.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <string>

#include "blazepose.hpp"
#include "monobody/detect.hpp"
#include "monobody/error.hpp"

namespace monobody {

std::string_view to_string(PoseModel model) {
  switch (model) {
    case PoseModel::Lite:
      return "lite";
    case PoseModel::Full:
      return "full";
    case PoseModel::Heavy:
      return "heavy";
  }
  return "full";
}

PoseModel parse_pose_model(std::string_view name) {
  std::string key(name);
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (PoseModel m : {PoseModel::Lite, PoseModel::Full, PoseModel::Heavy})
    if (key == to_string(m)) return m;
  throw Error("unknown pose model '" + std::string(name) + "' (known: lite, full, heavy)");
}

Keypoints2D Pose::keypoints() const {
  Keypoints2D kp;
  kp.joint_set = JointSet::BlazePose33;
  kp.xy = landmarks.topRows<2>();
  kp.confidence = visibility;
  kp.depth = landmarks.row(2).transpose();
  // BlazePose's per-landmark z comes out several times deeper than its own metric world landmarks say (2.8x on
  // messi5.jpg; lifters trained on true depths then throw the legs towards the camera). So the depth handed on is
  // the world landmarks' z in pixels: scaled by the ratio of the 2D spread (pixels) to the world landmarks'
  // spread across the view (metres).
  if (world_landmarks.cols() == landmarks.cols() && world_landmarks.allFinite() && landmarks.allFinite()) {
    const Eigen::Vector2d c2 = kp.xy.rowwise().mean();
    const Eigen::Vector2d c3 = world_landmarks.topRows<2>().rowwise().mean();
    const double spread2 = (kp.xy.colwise() - c2).squaredNorm();
    const double spread3 = (world_landmarks.topRows<2>().colwise() - c3).squaredNorm();
    if (spread3 > 1e-9) kp.depth = world_landmarks.row(2).transpose() * std::sqrt(spread2 / spread3);
  }
  return kp;
}

Eigen::Vector4d Pose::bounding_box(double min_visibility) const {
  Eigen::Vector2d lo = Eigen::Vector2d::Constant(1e300), hi = Eigen::Vector2d::Constant(-1e300);
  for (int j = 0; j < landmarks.cols(); ++j) {
    if (visibility[j] < min_visibility) continue;
    lo = lo.cwiseMin(landmarks.col(j).head<2>());
    hi = hi.cwiseMax(landmarks.col(j).head<2>());
  }
  if (lo.x() > hi.x()) return Eigen::Vector4d::Zero();
  return {lo.x(), lo.y(), hi.x() - lo.x(), hi.y() - lo.y()};
}

SegmentationMask LandmarkHeatmaps::in_image(int landmark, int width, int height) const {
  if (empty()) throw Error("no heatmaps were kept (enable PoseDetectorOptions::heatmaps)");
  if (landmark < 0 || landmark >= count) throw Error("no heatmap for landmark " + std::to_string(landmark));
  cv::Mat channel(size, size, CV_32F);
  for (int cell = 0; cell < size * size; ++cell)
    channel.at<float>(cell) = values[std::size_t(cell) * std::size_t(count) + std::size_t(landmark)];
  SegmentationMask out{width, height, std::vector<float>(std::size_t(width) * height, 0.0f)};
  cv::Mat dst(height, width, CV_32F, out.values.data());
  const blazepose::Affine to_cell = blazepose::invert(to_image);
  const cv::Matx23d m(to_cell(0, 0), to_cell(0, 1), to_cell(0, 2), to_cell(1, 0), to_cell(1, 1), to_cell(1, 2));
  cv::warpAffine(channel, dst, m, dst.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                 cv::Scalar::all(0));
  return out;
}

std::vector<KeypointHeatmap> LandmarkHeatmaps::samples(double min_fraction) const {
  if (empty()) throw Error("no heatmaps were kept (enable PoseDetectorOptions::heatmaps)");
  std::vector<KeypointHeatmap> out(static_cast<std::size_t>(count));
  for (int l = 0; l < count; ++l) {
    float peak = 0;
    for (int cell = 0; cell < size * size; ++cell)
      peak = std::max(peak, values[std::size_t(cell) * std::size_t(count) + std::size_t(l)]);
    if (!(peak > 0)) continue;
    std::vector<Eigen::Vector2d> points;
    std::vector<double> weights;
    for (int row = 0; row < size; ++row)
      for (int col = 0; col < size; ++col) {
        const float v = values[(std::size_t(row) * std::size_t(size) + std::size_t(col)) * std::size_t(count) + std::size_t(l)];
        if (v < min_fraction * peak) continue;
        points.push_back(to_image * Eigen::Vector3d(col, row, 1.0));
        weights.push_back(v);
      }
    KeypointHeatmap& h = out[std::size_t(l)];
    h.points.resize(2, Eigen::Index(points.size()));
    h.weights.resize(Eigen::Index(weights.size()));
    for (std::size_t i = 0; i < points.size(); ++i) h.points.col(Eigen::Index(i)) = points[i], h.weights[Eigen::Index(i)] = weights[i];
  }
  return out;
}

RotatedRect roi_from_detection(const PoseDetection& detection) {
  return blazepose::roi_from_alignment(detection.keypoints.col(0), detection.keypoints.col(1));
}

RotatedRect next_roi(const Pose& pose) {
  return blazepose::roi_from_alignment(pose.alignment.col(0), pose.alignment.col(1));
}

namespace {
nlohmann::json rows(const Eigen::MatrixXd& m) {
  nlohmann::json out = nlohmann::json::array();
  for (int c = 0; c < m.cols(); ++c) {
    nlohmann::json col = nlohmann::json::array();
    for (int r = 0; r < m.rows(); ++r) col.push_back(m(r, c));
    out.push_back(col);
  }
  return out;
}
nlohmann::json values(const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); }
}  // namespace

Person to_person(const Pose& pose) {
  Person p;
  p.id = pose.id;
  p.score = pose.presence;
  p.bbox = pose.bounding_box();
  if (p.bbox[2] <= 0) {  // nothing confidently visible: the region's axis-aligned extent
    const double half = std::max(pose.roi.width, pose.roi.height) / 2;
    p.bbox << pose.roi.center.array() - half, 2 * half, 2 * half;
  }
  p.keypoints2d = pose.keypoints();
  p.extras["world_landmarks"] = rows(pose.world_landmarks);
  p.extras["visibility"] = values(pose.visibility);
  p.extras["presence"] = values(pose.landmark_presence);
  p.extras["roi"] = {{"center", {pose.roi.center.x(), pose.roi.center.y()}},
                     {"size", {pose.roi.width, pose.roi.height}},
                     {"rotation", pose.roi.rotation}};
  if (pose.detection)
    p.extras["detection"] = {{"score", pose.detection->score},
                             {"box", values(pose.detection->box)},
                             {"keypoints", rows(pose.detection->keypoints)}};
  return p;
}

}  // namespace monobody
