// People and their landmarks in photos and video: Google's pretrained BlazePose networks (a person
// detector, then a landmark model on a rotated crop around each person) on monobody's own runtime.
//
// Usage, much as with MediaPipe's pose landmarker:
//   PoseDetector detector({.model = PoseModel::Full, .max_people = 4});
//   for (const Pose& pose : detector.detect(image.view())) ...            // independent photos
//   for (...) detector.detect_video(frame.view(), seconds);               // a video: tracks people
//
// Every position is in image pixels (OpenCV's convention: the centre of pixel (0, 0) is at (0, 0)).
#pragma once

#include <Eigen/Core>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "monobody/image.hpp"
#include "monobody/keypoints.hpp"
#include "monobody/result.hpp"

namespace monobody {

// The landmark network's size: lite is the fastest, heavy the most accurate.
enum class PoseModel { Lite, Full, Heavy };
std::string_view to_string(PoseModel model);
// "lite", "full" or "heavy"; throws monobody::Error otherwise.
PoseModel parse_pose_model(std::string_view name);

// A rectangle turned by `rotation` radians about its centre; positive turns it clockwise on screen
// (x right, y down). The landmark model sees this region of the image, upright.
struct RotatedRect {
  Eigen::Vector2d center = Eigen::Vector2d::Zero();
  double width = 0.0;
  double height = 0.0;
  double rotation = 0.0;
};

struct PoseDetectorOptions {
  PoseModel model = PoseModel::Full;
  // Folder with pose_detection.tflite and pose_landmark_{lite,full,heavy}.tflite. Empty: $MONOBODY_MODELS,
  // else the models/ folder of the source tree (where scripts/setup.sh puts them).
  std::filesystem::path model_dir;
  int max_people = 4;
  // Detector score (sigmoid of its logit) for a candidate person. Low, as in MediaPipe's pose graph (0.2):
  // the landmark model's presence score then rejects what is not a person.
  double min_detection_score = 0.2;
  double min_pose_presence = 0.5;    // the landmark model's "a pose is here" score; below it a person is dropped
  // Video: a person already tracked is kept down to this presence (small or briefly occluded people dip below
  // min_pose_presence for a frame or two; dropping them would change their id).
  double min_tracking_presence = 0.15;
  double nms_iou = 0.3;              // detections overlapping more than this are merged
  bool segmentation = true;          // compute each person's mask in the image
  bool heatmaps = false;             // keep the landmark heatmaps
  bool refine_with_heatmaps = true;  // move landmarks to their heatmap's local centre of mass (as MediaPipe does)
  // Fill the landmark crop beyond the image's edges with the nearest edge pixels (MediaPipe's default for
  // the landmark model) rather than black (what the peer reference does).
  bool replicate_border = true;
  int redetect_interval = 10;  // video: frames between detector runs looking for new people
  // People far from the camera are too small for the detector's 224-pixel view of the whole image: also look
  // in n x n overlapping tiles (each zoomed in about n times, one detector run each). 0: whole image only.
  int detection_tiles = 0;
  // Photos, for accuracy at extra cost: also run the landmark model on the mirrored crop and average the two
  // (about twice the landmark time), and re-run it on the region its own alignment points give (per pass).
  bool flip_average = false;
  int refine_passes = 0;
  int threads = 1;
};

// One detector output: a person's box and the four alignment points the detector predicts.
struct PoseDetection {
  double score = 0.0;
  Eigen::Vector4d box = Eigen::Vector4d::Zero();  // x, y, width, height
  // Columns: hip centre, full-body size/rotation point, shoulder centre, upper-body size/rotation point.
  Eigen::Matrix<double, 2, 4> keypoints = Eigen::Matrix<double, 2, 4>::Zero();
};

// The probability that each image pixel shows the person (row-major, the image's size).
struct SegmentationMask {
  int width = 0;
  int height = 0;
  std::vector<float> values;
  bool empty() const { return values.empty(); }
  float at(int x, int y) const { return values[std::size_t(y) * std::size_t(width) + std::size_t(x)]; }
};

// The landmark model's heatmaps (probabilities) on its own grid, and the map from grid to image pixels.
struct LandmarkHeatmaps {
  int size = 0;               // size x size cells
  int count = 0;              // one channel per landmark (the 33 body landmarks)
  std::vector<float> values;  // size x size x count, channels last
  Eigen::Matrix<double, 2, 3> to_image = Eigen::Matrix<double, 2, 3>::Zero();  // cell (col, row) -> pixel
  bool empty() const { return values.empty(); }
  // Channel `landmark` resampled onto an image of the given size (zero outside the crop).
  SegmentationMask in_image(int landmark, int width, int height) const;
  // Every landmark's cells with at least `min_fraction` of that channel's peak, as image points weighted by
  // their probabilities (for EM lifting: SparseLifter::lift_with_heatmaps).
  std::vector<KeypointHeatmap> samples(double min_fraction = 0.1) const;
};

inline constexpr int kBlazePoseLandmarks = 33;

struct Pose {
  int id = 0;                              // stable across the frames of a video
  double presence = 0.0;                   // the landmark model's pose presence score in [0, 1]
  std::optional<PoseDetection> detection;  // the detection this pose came from (absent when tracked)
  RotatedRect roi;                         // the region the landmark model looked at
  // 3 x 33: x, y in pixels; z a depth relative to the hips in the same pixel scale (smaller is nearer).
  Eigen::Matrix3Xd landmarks;
  Eigen::VectorXd visibility;         // 33, in [0, 1]: likely to be in view and not occluded
  Eigen::VectorXd landmark_presence;  // 33, in [0, 1]: likely to be inside the image
  // 3 x 33 metres, origin between the hips, axes as the image's (x right, y down, z away from the camera).
  Eigen::Matrix3Xd world_landmarks;
  // 2 x 2: the model's hip centre and size/rotation point, from which the next frame's region is made.
  Eigen::Matrix2Xd alignment;
  SegmentationMask mask;      // empty unless PoseDetectorOptions::segmentation
  LandmarkHeatmaps heatmaps;  // empty unless PoseDetectorOptions::heatmaps

  // The landmarks as blazepose33 keypoints; confidence is the visibility. Depth is the world landmarks' z
  // scaled to pixels (the landmarks' own z overstates depth several times), or z without world landmarks.
  Keypoints2D keypoints() const;
  // x, y, width, height of the landmarks that are in view (visibility >= min_visibility).
  Eigen::Vector4d bounding_box(double min_visibility = 0.5) const;
};

class PoseDetector {
 public:
  // Loads the networks once; throws monobody::Error for a missing or corrupt model file.
  explicit PoseDetector(const PoseDetectorOptions& options = {});
  ~PoseDetector();
  PoseDetector(const PoseDetector&) = delete;
  PoseDetector& operator=(const PoseDetector&) = delete;

  // A photo: the detector, then one landmark pass per person (at most max_people, best first).
  std::vector<Pose> detect(const ImageView& image);
  // A frame of a video (timestamps in seconds, increasing): each person's region follows their landmarks
  // from the previous frame; the detector runs when nobody is tracked and every redetect_interval frames
  // to find new people. Ids stay with people while they are tracked.
  std::vector<Pose> detect_video(const ImageView& frame, double timestamp);
  // Forgets every track (the next detect_video starts afresh).
  void reset();

  // Building blocks. The detector alone (merged, best first):
  std::vector<PoseDetection> detect_people(const ImageView& image);
  // One landmark pass on a given region, whatever the presence score.
  Pose landmarks_in(const ImageView& image, const RotatedRect& roi);

  const PoseDetectorOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The region the landmark model needs for a detection (centred on the hips, upright along the body).
RotatedRect roi_from_detection(const PoseDetection& detection);
// The same region from a pose's own alignment points: where to look next (next frame, or another pass).
RotatedRect next_roi(const Pose& pose);

// A pose as a person of the result schema: keypoints2d (blazepose33, confidence = visibility, depth = z),
// score = presence, bbox from the visible landmarks, and extras {world_landmarks (m), visibility,
// presence, roi {center, size, rotation}, detection {score, box, keypoints}}.
Person to_person(const Pose& pose);

}  // namespace monobody
