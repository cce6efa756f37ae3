// BlazePose's pre- and post-processing as pure functions: the detector's SSD anchors, letterboxed and
// rotated crops into network inputs, decoding the detector and landmark tensors, weighted non-maximum
// suppression, and the regions of interest. The numbers are those of MediaPipe's published pose graphs.
//
// Coordinates: image pixels follow OpenCV (pixel (0, 0)'s centre at (0, 0)); a region's normalised
// coordinates (u, v) run from 0 to 1 across its edges, so the network input pixel i has u = (i + 0.5) / size.
#pragma once

#include <Eigen/Core>
#include <Eigen/LU>
#include <opencv2/core.hpp>
#include <span>
#include <vector>

#include "monobody/detect.hpp"
#include "monobody/image.hpp"

namespace monobody::blazepose {

inline constexpr int kDetectorInputSize = 224;
inline constexpr int kAnchorCount = 2254;   // 28*28*2 + 14*14*2 + 7*7*6
inline constexpr int kDetectorCoords = 12;  // box centre x, y, width, height, then 4 keypoints (x, y)
inline constexpr int kLandmarkInputSize = 256;
inline constexpr int kLandmarkCount = 39;  // 33 body landmarks, then 6 auxiliary points
inline constexpr int kLandmarkValues = 5;  // x, y, z, visibility logit, presence logit
inline constexpr int kHeatmapSize = 64;
inline constexpr int kAlignmentCentre = 33;  // auxiliary landmarks that play the detector's keypoints 0, 1
inline constexpr int kAlignmentScale = 34;
inline constexpr double kRoiScale = 1.25;  // margin around the body circle (MediaPipe's rect transformation)

using Affine = Eigen::Matrix<double, 2, 3>;

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Centres of the detector's anchors, normalised to its input; the anchors have a fixed unit size.
const std::vector<Eigen::Vector2d>& detector_anchors();

// The square region the detector sees: the whole image centred in it, padded along its shorter side.
RotatedRect letterbox_region(int width, int height);

// A region's normalised coordinates -> image pixels.
Eigen::Vector2d region_to_image(const RotatedRect& region, const Eigen::Vector2d& uv);
// Pixels of a size x size network input (OpenCV convention) -> image pixels, and its inverse.
Affine input_to_image(const RotatedRect& region, int size);
Affine invert(const Affine& m);
// Heatmap cells (col, row) of a size x size heatmap -> image pixels (see refine_with_heatmaps).
Affine heatmap_to_image(const RotatedRect& roi, int size);
inline Eigen::Vector2d apply(const Affine& m, const Eigen::Vector2d& p) { return m.leftCols<2>() * p + m.col(2); }

// Reusable buffers for crop_to_tensor (a float copy of the part of the image a region covers).
struct CropScratch {
  cv::Mat patch;
  cv::Mat warped;
};

// How a crop is filled beyond the image's edges.
enum class Border { Black, Replicate };

// Samples `region` of `image` into a size x size x 3 float tensor (bilinear), mapping 0..255 to lo..hi.
// `out` must hold size * size * 3 floats.
void crop_to_tensor(const ImageView& image, const RotatedRect& region, int size, float lo, float hi,
                    std::span<float> out, CropScratch& scratch, Border border = Border::Black);

// Decodes the detector's outputs ([2254 x 12] regressors, [2254] score logits) for the letterboxed
// `region`: every anchor whose score reaches min_score, in image pixels, unsorted.
std::vector<PoseDetection> decode_detections(std::span<const float> regressors, std::span<const float> logits,
                                             double min_score, const RotatedRect& region);

double box_iou(const Eigen::Vector4d& a, const Eigen::Vector4d& b);

// Weighted non-maximum suppression: from the best remaining detection, every detection overlapping it by
// more than iou_threshold is merged into one (positions averaged with the scores as weights, the best
// score kept). Returns the merged detections, best first.
std::vector<PoseDetection> weighted_nms(std::vector<PoseDetection> detections, double iou_threshold);

// The square region around a body from its centre (hip centre) and a point on the body circle: the
// circle's diameter times `scale`, turned so the centre -> point direction is "up" in the crop.
RotatedRect roi_from_alignment(const Eigen::Vector2d& centre, const Eigen::Vector2d& circle_point,
                               double scale = kRoiScale);

// What the landmark model says about one region, decoded into image coordinates.
struct LandmarkTensors {
  std::span<const float> landmarks;     // 39 x 5
  std::span<const float> pose_flag;     // 1
  std::span<const float> segmentation;  // 256 x 256 logits
  std::span<const float> heatmaps;      // 64 x 64 x 39 logits
  std::span<const float> world;         // 39 x 3 metres
};

// The landmark model's answer in its crop: normalised coordinates (u, v), before mapping to the image.
struct CropLandmarks {
  Eigen::Matrix2Xd uv{2, kLandmarkCount};
  Eigen::VectorXd z{kLandmarkCount};           // normalised like u
  Eigen::VectorXd visibility{kLandmarkCount};  // probabilities
  Eigen::VectorXd presence{kLandmarkCount};
  Eigen::Matrix3Xd world{3, kLandmarkCount};  // metres, crop orientation
  double pose_flag = 0.0;
};

CropLandmarks decode_crop_landmarks(const LandmarkTensors& tensors, bool refine_with_heatmaps);
// What the model said about a mirrored crop, expressed for the unmirrored crop (left and right swapped).
CropLandmarks unmirror(const CropLandmarks& mirrored);
// The mean of two answers for the same crop.
CropLandmarks average(const CropLandmarks& a, const CropLandmarks& b);
// Fills the landmark fields of `pose` (landmarks, visibility, presence, world, alignment, roi, presence score).
void to_image(const CropLandmarks& crop, const RotatedRect& roi, Pose& pose);
// The heatmaps (logits, 64 x 64 x 39) as the body landmarks' probabilities placed in the image.
LandmarkHeatmaps heatmaps_to_image(std::span<const float> heatmap_logits, const RotatedRect& roi);

struct DecodeOptions {
  bool refine_with_heatmaps = true;
  bool keep_heatmaps = false;
  bool segmentation = false;
  int image_width = 0;  // for the segmentation mask
  int image_height = 0;
};

// Fills `pose` (all but id and detection) from the landmark model's outputs on `roi`.
void decode_landmarks(const LandmarkTensors& tensors, const RotatedRect& roi, const DecodeOptions& options, Pose& pose);

// Moves normalised landmarks (u, v per column) to the probability-weighted mean of their heatmap
// (logits, size x size x channels) in a kernel x kernel window, where the window's peak probability
// reaches min_confidence (MediaPipe's refinement). Heatmap cell c stands for u = c / size, as in MediaPipe:
// on messi5 the regressed landmarks sit about half a cell past the cell centres, which this convention absorbs.
void refine_with_heatmaps(Eigen::Ref<Eigen::Matrix2Xd> uv, std::span<const float> heatmap_logits, int size,
                          int kernel = 7, double min_confidence = 0.5);

// The segmentation logits (size x size) of `roi` as probabilities over an image of width x height.
SegmentationMask mask_to_image(std::span<const float> logits, int size, const RotatedRect& roi, int width, int height);

}  // namespace monobody::blazepose
