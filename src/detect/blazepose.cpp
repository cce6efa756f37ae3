#include "blazepose.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <opencv2/imgproc.hpp>

#include "monobody/error.hpp"
#include "monobody/skeleton.hpp"

namespace monobody::blazepose {
namespace {

// MediaPipe's SSD anchor options for the pose detector: strides 8, 16, 32, 32, 32 on a 224 input, one
// aspect ratio (1.0) plus one interpolated scale per layer, consecutive layers of equal stride sharing a
// grid. With fixed-size anchors only the centres matter.
std::vector<Eigen::Vector2d> make_anchors() {
  constexpr int kStrides[] = {8, 16, 32, 32, 32};
  constexpr int kLayers = 5;
  constexpr int kAnchorsPerLayer = 2;
  std::vector<Eigen::Vector2d> anchors;
  anchors.reserve(kAnchorCount);
  for (int layer = 0; layer < kLayers;) {
    int last = layer;
    while (last < kLayers && kStrides[last] == kStrides[layer]) ++last;
    const int per_cell = kAnchorsPerLayer * (last - layer);
    const int grid = (kDetectorInputSize + kStrides[layer] - 1) / kStrides[layer];
    for (int y = 0; y < grid; ++y)
      for (int x = 0; x < grid; ++x)
        for (int k = 0; k < per_cell; ++k) anchors.emplace_back((x + 0.5) / grid, (y + 0.5) / grid);
    layer = last;
  }
  return anchors;
}

Eigen::Matrix2d rotation_matrix(double angle) {
  const double c = std::cos(angle), s = std::sin(angle);
  return (Eigen::Matrix2d() << c, -s, s, c).finished();
}

double normalize_angle(double a) {
  constexpr double kTwoPi = 2.0 * std::numbers::pi;
  return a - kTwoPi * std::floor((a + std::numbers::pi) / kTwoPi);
}

cv::Matx23d to_cv(const Affine& m) { return {m(0, 0), m(0, 1), m(0, 2), m(1, 0), m(1, 1), m(1, 2)}; }

}  // namespace

const std::vector<Eigen::Vector2d>& detector_anchors() {
  static const std::vector<Eigen::Vector2d> anchors = make_anchors();
  return anchors;
}

RotatedRect letterbox_region(int width, int height) {
  const double side = std::max(width, height);
  return {Eigen::Vector2d((width - 1) / 2.0, (height - 1) / 2.0), side, side, 0.0};
}

Eigen::Vector2d region_to_image(const RotatedRect& region, const Eigen::Vector2d& uv) {
  const Eigen::Vector2d local((uv.x() - 0.5) * region.width, (uv.y() - 0.5) * region.height);
  return region.center + rotation_matrix(region.rotation) * local;
}

Affine input_to_image(const RotatedRect& region, int size) {
  const Eigen::Matrix2d a =
      rotation_matrix(region.rotation) * Eigen::Vector2d(region.width / size, region.height / size).asDiagonal();
  Affine m;
  m.leftCols<2>() = a;
  m.col(2) = region.center + a * Eigen::Vector2d::Constant(0.5 - size / 2.0);
  return m;
}

Affine heatmap_to_image(const RotatedRect& roi, int size) {
  Affine m = input_to_image(roi, size);
  m.col(2) -= m.leftCols<2>() * Eigen::Vector2d::Constant(0.5);  // cell c is at u = c / size
  return m;
}

Affine invert(const Affine& m) {
  const Eigen::Matrix2d inv = m.leftCols<2>().inverse();
  Affine out;
  out.leftCols<2>() = inv;
  out.col(2) = -inv * m.col(2);
  return out;
}

void crop_to_tensor(const ImageView& image, const RotatedRect& region, int size, float lo, float hi,
                    std::span<float> out, CropScratch& scratch, Border border) {
  if (out.size() != std::size_t(size) * size * 3) throw Error("internal: crop tensor has the wrong size");
  if (image.empty()) throw Error("empty image");
  const Affine to_image = input_to_image(region, size);
  // Only the part of the image the region covers is converted to float (plus a margin for bilinear).
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  for (double cx : {-0.5, size - 0.5})
    for (double cy : {-0.5, size - 0.5}) {
      const Eigen::Vector2d p = apply(to_image, {cx, cy});
      x0 = std::min(x0, p.x()), x1 = std::max(x1, p.x()), y0 = std::min(y0, p.y()), y1 = std::max(y1, p.y());
    }
  int left = std::clamp(int(std::floor(x0)) - 2, 0, image.width);
  int top = std::clamp(int(std::floor(y0)) - 2, 0, image.height);
  int right = std::clamp(int(std::ceil(x1)) + 3, 0, image.width);
  int bottom = std::clamp(int(std::ceil(y1)) + 3, 0, image.height);
  cv::Mat dst(size, size, CV_32FC3, out.data());
  if (border == Border::Replicate) {  // even a region wholly outside needs the nearest edge in the patch
    left = std::min(left, image.width - 1), top = std::min(top, image.height - 1);
    right = std::max(right, left + 1), bottom = std::max(bottom, top + 1);
  }
  if (right <= left || bottom <= top) {
    dst.setTo(cv::Scalar::all(lo));
    return;
  }
  const cv::Mat whole(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.data),
                      std::size_t(image.stride));
  whole(cv::Rect(left, top, right - left, bottom - top)).convertTo(scratch.patch, CV_32FC3);
  Affine to_patch = to_image;
  to_patch.col(2) -= Eigen::Vector2d(left, top);
  cv::warpAffine(scratch.patch, dst, to_cv(to_patch), dst.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 border == Border::Replicate ? cv::BORDER_REPLICATE : cv::BORDER_CONSTANT, cv::Scalar::all(0));
  dst.convertTo(dst, CV_32FC3, (hi - lo) / 255.0, lo);
}

std::vector<PoseDetection> decode_detections(std::span<const float> regressors, std::span<const float> logits,
                                             double min_score, const RotatedRect& region) {
  if (regressors.size() != std::size_t(kAnchorCount) * kDetectorCoords || logits.size() != std::size_t(kAnchorCount))
    throw Error("pose detector: unexpected output size");
  const auto& anchors = detector_anchors();
  constexpr double kScale = kDetectorInputSize;
  constexpr double kLogitClip = 100.0;  // MediaPipe's score clipping before the sigmoid
  std::vector<PoseDetection> out;
  for (int i = 0; i < kAnchorCount; ++i) {
    const double logit = std::clamp(double(logits[std::size_t(i)]), -kLogitClip, kLogitClip);
    const double score = sigmoid(logit);
    if (!(score >= min_score)) continue;
    const float* r = regressors.data() + std::size_t(i) * kDetectorCoords;
    const Eigen::Vector2d& a = anchors[std::size_t(i)];
    PoseDetection d;
    d.score = score;
    const Eigen::Vector2d centre = region_to_image(region, {r[0] / kScale + a.x(), r[1] / kScale + a.y()});
    const Eigen::Vector2d extent(r[2] / kScale * region.width, r[3] / kScale * region.height);
    d.box << centre - extent / 2, extent;
    for (int k = 0; k < 4; ++k)
      d.keypoints.col(k) = region_to_image(region, {r[4 + 2 * k] / kScale + a.x(), r[5 + 2 * k] / kScale + a.y()});
    if (d.box.allFinite() && d.keypoints.allFinite()) out.push_back(d);
  }
  return out;
}

double box_iou(const Eigen::Vector4d& a, const Eigen::Vector4d& b) {
  const double w = std::min(a[0] + a[2], b[0] + b[2]) - std::max(a[0], b[0]);
  const double h = std::min(a[1] + a[3], b[1] + b[3]) - std::max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0.0;
  const double inter = w * h;
  const double uni = a[2] * a[3] + b[2] * b[3] - inter;
  return uni > 0 ? inter / uni : 0.0;
}

std::vector<PoseDetection> weighted_nms(std::vector<PoseDetection> detections, double iou_threshold) {
  std::stable_sort(detections.begin(), detections.end(),
                   [](const PoseDetection& a, const PoseDetection& b) { return a.score > b.score; });
  std::vector<PoseDetection> kept;
  std::vector<bool> used(detections.size(), false);
  for (std::size_t i = 0; i < detections.size(); ++i) {
    if (used[i]) continue;
    PoseDetection merged = detections[i];
    Eigen::Vector4d box = Eigen::Vector4d::Zero();
    Eigen::Matrix<double, 2, 4> keypoints = Eigen::Matrix<double, 2, 4>::Zero();
    double total = 0.0;
    for (std::size_t k = i; k < detections.size(); ++k) {
      if (used[k] || box_iou(detections[i].box, detections[k].box) <= iou_threshold) continue;
      used[k] = true;
      box += detections[k].score * detections[k].box;
      keypoints += detections[k].score * detections[k].keypoints;
      total += detections[k].score;
    }
    if (total > 0) {
      merged.box = box / total;
      merged.keypoints = keypoints / total;
    }
    kept.push_back(merged);
  }
  return kept;
}

RotatedRect roi_from_alignment(const Eigen::Vector2d& centre, const Eigen::Vector2d& circle_point, double scale) {
  const Eigen::Vector2d d = circle_point - centre;
  // The rotation that brings the centre -> point direction to "up" (90 degrees, y pointing down).
  const double rotation = normalize_angle(std::numbers::pi / 2 - std::atan2(-d.y(), d.x()));
  const double side = 2.0 * d.norm() * scale;
  return {centre, side, side, rotation};
}

void refine_with_heatmaps(Eigen::Ref<Eigen::Matrix2Xd> uv, std::span<const float> heatmap_logits, int size, int kernel,
                          double min_confidence) {
  const int channels = int(uv.cols());
  if (heatmap_logits.size() != std::size_t(size) * size * channels) throw Error("internal: heatmap size mismatch");
  const int half = (kernel - 1) / 2;
  for (int j = 0; j < channels; ++j) {
    if (!uv.col(j).allFinite()) continue;
    const int col = int(std::floor(uv(0, j) * size));
    const int row = int(std::floor(uv(1, j) * size));
    if (col < 0 || col >= size || row < 0 || row >= size) continue;
    double sum = 0, sum_col = 0, sum_row = 0, peak = 0;
    for (int r = std::max(0, row - half); r < std::min(size, row + half + 1); ++r)
      for (int c = std::max(0, col - half); c < std::min(size, col + half + 1); ++c) {
        const double p = sigmoid(heatmap_logits[(std::size_t(r) * size + c) * channels + j]);
        sum += p;
        sum_col += p * c;
        sum_row += p * r;
        peak = std::max(peak, p);
      }
    if (peak >= min_confidence && sum > 0) {
      uv(0, j) = sum_col / sum / size;
      uv(1, j) = sum_row / sum / size;
    }
  }
}

SegmentationMask mask_to_image(std::span<const float> logits, int size, const RotatedRect& roi, int width, int height) {
  if (logits.size() != std::size_t(size) * size) throw Error("internal: segmentation size mismatch");
  cv::Mat prob(size, size, CV_32F);
  for (int i = 0; i < size * size; ++i) prob.at<float>(i) = float(sigmoid(logits[std::size_t(i)]));
  SegmentationMask mask{width, height, std::vector<float>(std::size_t(width) * height, 0.0f)};
  cv::Mat dst(height, width, CV_32F, mask.values.data());
  cv::warpAffine(prob, dst, to_cv(invert(input_to_image(roi, size))), dst.size(),
                 cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  return mask;
}

CropLandmarks decode_crop_landmarks(const LandmarkTensors& t, bool refine) {
  if (t.landmarks.size() != std::size_t(kLandmarkCount) * kLandmarkValues || t.pose_flag.size() != 1 ||
      t.world.size() != std::size_t(kLandmarkCount) * 3)
    throw Error("pose landmark model: unexpected output size");
  CropLandmarks c;
  for (int i = 0; i < kLandmarkCount; ++i) {
    const float* v = t.landmarks.data() + std::size_t(i) * kLandmarkValues;
    c.uv.col(i) << v[0] / double(kLandmarkInputSize), v[1] / double(kLandmarkInputSize);
    c.z[i] = v[2] / double(kLandmarkInputSize);
    c.visibility[i] = sigmoid(v[3]);
    c.presence[i] = sigmoid(v[4]);
    const float* w = t.world.data() + std::size_t(i) * 3;
    c.world.col(i) << w[0], w[1], w[2];
  }
  if (refine) refine_with_heatmaps(c.uv, t.heatmaps, kHeatmapSize);
  c.pose_flag = std::clamp(double(t.pose_flag[0]), 0.0, 1.0);
  return c;
}

CropLandmarks unmirror(const CropLandmarks& m) {
  const auto& partner = skeleton(JointSet::BlazePose33).mirror;  // the auxiliary points are their own partners
  CropLandmarks c = m;
  for (int i = 0; i < kLandmarkCount; ++i) {
    const int k = i < kBlazePoseLandmarks ? partner[std::size_t(i)] : i;
    c.uv.col(i) << 1.0 - m.uv(0, k), m.uv(1, k);
    c.z[i] = m.z[k];
    c.visibility[i] = m.visibility[k];
    c.presence[i] = m.presence[k];
    c.world.col(i) << -m.world(0, k), m.world(1, k), m.world(2, k);
  }
  return c;
}

CropLandmarks average(const CropLandmarks& a, const CropLandmarks& b) {
  CropLandmarks c;
  c.uv = (a.uv + b.uv) / 2;
  c.z = (a.z + b.z) / 2;
  c.visibility = (a.visibility + b.visibility) / 2;
  c.presence = (a.presence + b.presence) / 2;
  c.world = (a.world + b.world) / 2;
  c.pose_flag = (a.pose_flag + b.pose_flag) / 2;
  return c;
}

void to_image(const CropLandmarks& c, const RotatedRect& roi, Pose& pose) {
  pose.roi = roi;
  pose.presence = c.pose_flag;
  pose.landmarks.resize(3, kBlazePoseLandmarks);
  for (int i = 0; i < kBlazePoseLandmarks; ++i)
    pose.landmarks.col(i) << region_to_image(roi, c.uv.col(i)), c.z[i] * roi.width;
  pose.visibility = c.visibility.head(kBlazePoseLandmarks);
  pose.landmark_presence = c.presence.head(kBlazePoseLandmarks);
  pose.alignment.resize(2, 2);
  pose.alignment.col(0) = region_to_image(roi, c.uv.col(kAlignmentCentre));
  pose.alignment.col(1) = region_to_image(roi, c.uv.col(kAlignmentScale));
  // World landmarks come in the crop's orientation: turn them back by the region's rotation (about z).
  const Eigen::Matrix2d turn = rotation_matrix(roi.rotation);
  pose.world_landmarks.resize(3, kBlazePoseLandmarks);
  pose.world_landmarks.topRows<2>() = turn * c.world.topLeftCorner(2, kBlazePoseLandmarks);
  pose.world_landmarks.row(2) = c.world.row(2).head(kBlazePoseLandmarks);
}

LandmarkHeatmaps heatmaps_to_image(std::span<const float> logits, const RotatedRect& roi) {
  constexpr std::size_t kCells = std::size_t(kHeatmapSize) * kHeatmapSize;
  if (logits.size() != kCells * kLandmarkCount) throw Error("pose landmark model: unexpected heatmap size");
  LandmarkHeatmaps h;
  h.size = kHeatmapSize;
  h.count = kBlazePoseLandmarks;
  h.values.resize(kCells * kBlazePoseLandmarks);
  for (std::size_t cell = 0; cell < kCells; ++cell)
    for (int j = 0; j < kBlazePoseLandmarks; ++j)
      h.values[cell * kBlazePoseLandmarks + std::size_t(j)] =
          float(sigmoid(logits[cell * kLandmarkCount + std::size_t(j)]));
  h.to_image = heatmap_to_image(roi, kHeatmapSize);
  return h;
}

void decode_landmarks(const LandmarkTensors& t, const RotatedRect& roi, const DecodeOptions& options, Pose& pose) {
  to_image(decode_crop_landmarks(t, options.refine_with_heatmaps), roi, pose);
  pose.heatmaps = options.keep_heatmaps ? heatmaps_to_image(t.heatmaps, roi) : LandmarkHeatmaps{};
  pose.mask = options.segmentation
                  ? mask_to_image(t.segmentation, kLandmarkInputSize, roi, options.image_width, options.image_height)
                  : SegmentationMask{};
}

}  // namespace monobody::blazepose
