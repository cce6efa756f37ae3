// Scoring 2D keypoints against human labels: PCK, the percentage of correct keypoints.
//
// PCK@a: a labelled joint is correct when the prediction lies within a * torso size of it, the torso size
// being the distance from the left shoulder to the right hip (the other diagonal when one is unlabelled),
// as usual on LSP. PCKh@a uses a * the head segment (neck to head top) instead.
#pragma once

#include <Eigen/Core>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "monobody/detect.hpp"
#include "monobody/keypoints.hpp"

namespace monobody {

// One labelled person in one image (LSP's 14 joints; a COCO label leaves the neck and head top unlabelled).
struct LabelledImage {
  std::filesystem::path file;   // absolute, or relative to the annotation file's folder
  Eigen::Matrix2Xd joints;      // 2 x 14 pixels
  std::vector<bool> visible;    // 14: labelled (false: outside the image, no position)
  Eigen::Vector4d box() const;  // x, y, width, height of the labelled joints
};

// Reads LSP-format annotations as in shared/data/images/dev/lspet/lspet_dev.json
// ({"images": [{"file", "joints": 14 x [x, y, visible]}, ...]}); files resolved against the json's folder.
std::vector<LabelledImage> read_lsp_labels(const std::filesystem::path& json);
// Reads COCO-format keypoint annotations (17 keypoints, COCO order; e.g. mmpose/coco/test_coco.json): one label
// per annotated person (crowd regions skipped), its limbs put in LSP's order. COCO has no neck or head top, so
// those stay unlabelled and PCKh cannot be scored.
std::vector<LabelledImage> read_coco_labels(const std::filesystem::path& json);
// Either format, told apart by COCO's 'annotations' list.
std::vector<LabelledImage> read_pose_labels(const std::filesystem::path& json);

class PckEvaluator {
 public:
  explicit PckEvaluator(double alpha = 0.2, double head_alpha = 0.5);
  // Scores one prediction (any joint set with a mapping to lsp14); a missing prediction counts as wrong.
  void add(const std::optional<Keypoints2D>& prediction, const LabelledImage& label);

  int images() const { return images_; }
  double pck() const;  // in [0, 1], over every labelled joint; NaN when nothing could be scored (PCKh of COCO)
  double pckh() const;
  double pck(int joint) const;  // per lsp14 joint (NaN when none was labelled)
  double pckh(int joint) const;
  int labelled(int joint) const { return total_[std::size_t(joint)]; }

 private:
  double alpha_, head_alpha_;
  int images_ = 0;
  std::vector<int> correct_, correct_head_, total_, total_head_;
};

// How to find the labelled person with a PoseDetector.
struct LabelSearch {
  int max_candidates = 6;  // detections tried per image
  // When no detection overlaps the label: the detector on overlapping square tiles, then whole-image
  // regions at 4 rotations.
  bool fallback_regions = true;
  double min_overlap = 0.3;  // IoU of joint boxes below which a detection is "not the labelled person"
};

// The detector's poses (and fallbacks) for an image, and the one the label is about: the candidate whose
// joints' box overlaps the labelled joints' box most. Empty when nothing was found at all.
std::optional<Pose> pose_for_label(PoseDetector& detector, const ImageView& image, const LabelledImage& label,
                                   const LabelSearch& search = {});

}  // namespace monobody
