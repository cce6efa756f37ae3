#include "monobody/pck.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>
#include <numeric>

#include "blazepose.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"

namespace monobody {
namespace {

// LSP joint indices used for the normalisers.
constexpr int kRightHip = 2, kLeftHip = 3, kRightShoulder = 8, kLeftShoulder = 9, kNeck = 12, kHeadTop = 13;
constexpr int kLspJoints = 14;

Eigen::Vector4d box_of(const Eigen::Matrix2Xd& xy, const std::vector<bool>& use) {
  Eigen::Vector2d lo = Eigen::Vector2d::Constant(1e300), hi = Eigen::Vector2d::Constant(-1e300);
  for (int j = 0; j < xy.cols(); ++j) {
    if (!use[std::size_t(j)] || !xy.col(j).allFinite()) continue;
    lo = lo.cwiseMin(xy.col(j));
    hi = hi.cwiseMax(xy.col(j));
  }
  if (lo.x() > hi.x()) return Eigen::Vector4d::Zero();
  return {lo.x(), lo.y(), hi.x() - lo.x(), hi.y() - lo.y()};
}

Keypoints2D to_lsp(const Keypoints2D& k) { return k.joint_set == JointSet::Lsp14 ? k : map_joints(k, JointSet::Lsp14); }

}  // namespace

Eigen::Vector4d LabelledImage::box() const { return box_of(joints, visible); }

std::vector<LabelledImage> read_lsp_labels(const std::filesystem::path& path) {
  const nlohmann::json json = read_json_file(path);
  const std::string where = path.string() + ": ";
  if (!json.is_object() || !json.contains("images") || !json["images"].is_array())
    throw Error(where + "expected an object with an 'images' list (LSP format)");
  std::vector<LabelledImage> out;
  for (std::size_t i = 0; i < json["images"].size(); ++i) {
    const auto& im = json["images"][i];
    const std::string at = where + "images[" + std::to_string(i) + "]: ";
    if (!im.is_object() || !im.contains("file") || !im["file"].is_string() || !im.contains("joints") ||
        !im["joints"].is_array() || im["joints"].size() != std::size_t(kLspJoints))
      throw Error(at + "expected 'file' and 14 'joints'");
    LabelledImage label;
    label.file = path.parent_path() / im["file"].get<std::string>();
    label.joints.resize(2, kLspJoints);
    label.visible.resize(kLspJoints);
    for (int j = 0; j < kLspJoints; ++j) {
      const auto& p = im["joints"][std::size_t(j)];
      if (!p.is_array() || p.size() != 3 || !p[0].is_number() || !p[1].is_number() || !p[2].is_number())
        throw Error(at + "joint " + std::to_string(j) + " is not [x, y, visible]");
      label.joints.col(j) << p[0].get<double>(), p[1].get<double>();
      label.visible[std::size_t(j)] = p[2].get<double>() > 0 && label.joints.col(j).allFinite();
    }
    out.push_back(std::move(label));
  }
  return out;
}

std::vector<LabelledImage> read_coco_labels(const std::filesystem::path& path) {
  // COCO's 17 keypoints in LSP's order; LSP's neck and head top have no COCO counterpart (left unlabelled).
  constexpr int kCocoOfLsp[12] = {16, 14, 12, 11, 13, 15, 10, 8, 6, 5, 7, 9};
  const nlohmann::json json = read_json_file(path);
  const std::string where = path.string() + ": ";
  if (!json.is_object() || !json.contains("images") || !json["images"].is_array() || !json.contains("annotations") ||
      !json["annotations"].is_array())
    throw Error(where + "expected an object with 'images' and 'annotations' lists (COCO format)");
  if (json.contains("categories") && json["categories"].is_array() && !json["categories"].empty()) {
    const auto& names = json["categories"][0].value("keypoints", nlohmann::json::array());
    if (names.size() < 17 || names[0] != "nose" || names[5] != "left_shoulder" || names[16] != "right_ankle")
      throw Error(where + "the keypoints are not COCO's 17 (nose, eyes, ears, shoulders, ... ankles)");
  }
  std::map<std::int64_t, std::string> files;
  for (const auto& im : json["images"]) {
    if (!im.is_object() || !im.contains("id") || !im["id"].is_number_integer() || !im.contains("file_name") ||
        !im["file_name"].is_string())
      throw Error(where + "every image needs an integer 'id' and a 'file_name'");
    files[im["id"].get<std::int64_t>()] = im["file_name"].get<std::string>();
  }
  std::vector<LabelledImage> out;
  for (std::size_t i = 0; i < json["annotations"].size(); ++i) {
    const auto& a = json["annotations"][i];
    const std::string at = where + "annotations[" + std::to_string(i) + "]: ";
    if (!a.is_object() || !a.contains("image_id") || !a["image_id"].is_number_integer() || !a.contains("keypoints") ||
        !a["keypoints"].is_array() || a["keypoints"].size() < 3 * 17)
      throw Error(at + "expected 'image_id' and 17 'keypoints' [x, y, v]");
    if (a.value("iscrowd", 0) != 0) continue;  // a crowd region, no single person
    const auto file = files.find(a["image_id"].get<std::int64_t>());
    if (file == files.end()) throw Error(at + "image_id " + a["image_id"].dump() + " is not among the images");
    LabelledImage label;
    label.file = path.parent_path() / file->second;
    label.joints = Eigen::Matrix2Xd::Zero(2, kLspJoints);
    label.visible.assign(kLspJoints, false);
    const auto& k = a["keypoints"];
    int labelled = 0;
    for (int j = 0; j < 12; ++j) {
      const std::size_t c = std::size_t(3 * kCocoOfLsp[j]);
      if (!k[c].is_number() || !k[c + 1].is_number() || !k[c + 2].is_number())
        throw Error(at + "keypoint " + std::to_string(kCocoOfLsp[j]) + " is not [x, y, v]");
      label.joints.col(j) << k[c].get<double>(), k[c + 1].get<double>();
      // v = 1: labelled but occluded; it still has a position to score against, as on LSP.
      label.visible[std::size_t(j)] = k[c + 2].get<double>() > 0 && label.joints.col(j).allFinite();
      labelled += label.visible[std::size_t(j)];
    }
    if (labelled > 0) out.push_back(std::move(label));
  }
  return out;
}

std::vector<LabelledImage> read_pose_labels(const std::filesystem::path& path) {
  const nlohmann::json json = read_json_file(path);
  return json.is_object() && json.contains("annotations") ? read_coco_labels(path) : read_lsp_labels(path);
}

PckEvaluator::PckEvaluator(double alpha, double head_alpha)
    : alpha_(alpha),
      head_alpha_(head_alpha),
      correct_(kLspJoints),
      correct_head_(kLspJoints),
      total_(kLspJoints),
      total_head_(kLspJoints) {}

void PckEvaluator::add(const std::optional<Keypoints2D>& prediction, const LabelledImage& label) {
  ++images_;
  const auto& v = label.visible;
  auto distance = [&](int a, int b) { return (label.joints.col(a) - label.joints.col(b)).norm(); };
  std::optional<double> torso, head;
  if (v[kLeftShoulder] && v[kRightHip])
    torso = distance(kLeftShoulder, kRightHip);
  else if (v[kRightShoulder] && v[kLeftHip])
    torso = distance(kRightShoulder, kLeftHip);
  if (v[kNeck] && v[kHeadTop]) head = distance(kNeck, kHeadTop);
  Eigen::Matrix2Xd predicted = Eigen::Matrix2Xd::Constant(2, kLspJoints, std::numeric_limits<double>::quiet_NaN());
  if (prediction) predicted = to_lsp(*prediction).xy;
  for (int j = 0; j < kLspJoints; ++j) {
    if (!v[std::size_t(j)]) continue;
    const double error = predicted.col(j).allFinite() ? (predicted.col(j) - label.joints.col(j)).norm()
                                                      : std::numeric_limits<double>::infinity();
    if (torso) {
      ++total_[std::size_t(j)];
      correct_[std::size_t(j)] += error <= alpha_ * *torso;
    }
    if (head) {
      ++total_head_[std::size_t(j)];
      correct_head_[std::size_t(j)] += error <= head_alpha_ * *head;
    }
  }
}

namespace {
double ratio(const std::vector<int>& a, const std::vector<int>& b) {
  const double n = std::accumulate(b.begin(), b.end(), 0.0);
  return n > 0 ? std::accumulate(a.begin(), a.end(), 0.0) / n : std::numeric_limits<double>::quiet_NaN();
}
}  // namespace

double PckEvaluator::pck() const { return ratio(correct_, total_); }
double PckEvaluator::pckh() const { return ratio(correct_head_, total_head_); }
double PckEvaluator::pck(int j) const {
  return total_[std::size_t(j)] ? double(correct_[std::size_t(j)]) / total_[std::size_t(j)]
                                : std::numeric_limits<double>::quiet_NaN();
}
double PckEvaluator::pckh(int j) const {
  return total_head_[std::size_t(j)] ? double(correct_head_[std::size_t(j)]) / total_head_[std::size_t(j)]
                                     : std::numeric_limits<double>::quiet_NaN();
}

std::optional<Pose> pose_for_label(PoseDetector& detector, const ImageView& image, const LabelledImage& label,
                                   const LabelSearch& search) {
  const Eigen::Vector4d target = label.box();
  const std::vector<bool> all(kLspJoints, true);
  auto overlap = [&](const Pose& pose) { return blazepose::box_iou(box_of(to_lsp(pose.keypoints()).xy, all), target); };
  const int passes = detector.options().refine_passes;
  auto refine = [&](Pose pose) {
    for (int pass = 0; pass < passes; ++pass) {
      Pose again = detector.landmarks_in(image, next_roi(pose));
      if (again.presence >= pose.presence * 0.9) pose = std::move(again);
    }
    return pose;
  };

  std::optional<Pose> best;
  double best_overlap = -1;
  auto consider = [&](Pose pose) {
    const double o = overlap(pose);
    if (o > best_overlap) best_overlap = o, best = std::move(pose);
  };
  const auto detections = detector.detect_people(image);
  for (std::size_t i = 0; i < detections.size() && int(i) < search.max_candidates; ++i) {
    Pose pose = refine(detector.landmarks_in(image, roi_from_detection(detections[i])));
    pose.detection = detections[i];
    consider(std::move(pose));
  }
  if (search.fallback_regions && best_overlap < search.min_overlap) {
    // The detector may have missed a smaller person beside a prominent one: run it again on overlapping
    // square tiles (the short side's size, at both ends and the middle of the long side).
    const int side = std::min(image.width, image.height);
    const bool wide = image.width >= image.height;
    const int travel = (wide ? image.width : image.height) - side;
    for (int step = 0; step <= 2 && travel > side / 8; ++step) {
      const int offset = travel * step / 2;
      const int x0 = wide ? offset : 0, y0 = wide ? 0 : offset;
      const ImageView tile{image.data + std::ptrdiff_t(y0) * image.stride + 3 * x0, side, side, image.stride};
      const auto found = detector.detect_people(tile);
      for (std::size_t i = 0; i < found.size() && int(i) < search.max_candidates; ++i) {
        PoseDetection d = found[i];
        d.box.head<2>() += Eigen::Vector2d(x0, y0);
        d.keypoints.colwise() += Eigen::Vector2d(x0, y0);
        Pose pose = refine(detector.landmarks_in(image, roi_from_detection(d)));
        pose.detection = d;
        consider(std::move(pose));
      }
    }
  }
  if (search.fallback_regions && best_overlap < search.min_overlap) {
    // The detector missed the person (or found someone else): let the landmark model look at the whole
    // picture, upright or turned by a quarter or half turn, and keep the turn it is surest about.
    const RotatedRect whole = blazepose::letterbox_region(image.width, image.height);
    std::optional<Pose> surest;
    for (int quarter = 0; quarter < 4; ++quarter) {
      RotatedRect roi = whole;
      roi.width = roi.height = whole.width * blazepose::kRoiScale;
      roi.rotation = quarter * std::numbers::pi / 2;
      Pose pose = detector.landmarks_in(image, roi);
      if (!surest || pose.presence > surest->presence) surest = std::move(pose);
    }
    consider(refine(detector.landmarks_in(image, next_roi(*surest))));
  }
  return best;
}

}  // namespace monobody
