// Smoothing keypoints over the frames of a video: the 2D stage's answer jitters by a pixel or two from frame
// to frame, which a lifted skeleton or an animation shows as trembling.
#pragma once

#include <Eigen/Core>
#include <map>
#include <vector>

#include "monobody/keypoints.hpp"

namespace monobody {

// The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012): a low-pass filter whose cut-off frequency rises
// with the signal's speed, so a still joint stops jittering while a moving one does not lag.
struct OneEuroOptions {
  double min_cutoff_hz = 1.0;  // cut-off at rest: lower = less jitter
  double beta = 0.02;          // how fast the cut-off rises with speed (per unit of the signal per second)
  double derivative_cutoff_hz = 1.0;
};

class OneEuroFilter {
 public:
  explicit OneEuroFilter(OneEuroOptions options = {}) : options_(options) {}
  // Filters a vector of values sampled at `time` (seconds, increasing). The first call returns its input.
  // Values that are not finite pass through and do not disturb the state of that component.
  Eigen::VectorXd filter(const Eigen::VectorXd& value, double time);
  void reset() { initialised_ = false; }

 private:
  OneEuroOptions options_;
  bool initialised_ = false;
  double last_time_ = 0.0;
  Eigen::VectorXd value_, derivative_;
};

// One One-Euro filter per tracked person over its keypoints (x, y and depth), in pixels. A person unseen for
// longer than `max_gap_s` starts afresh, so a re-found person does not glide in from where they were lost.
class KeypointSmoother {
 public:
  explicit KeypointSmoother(OneEuroOptions options = {}, double max_gap_s = 0.2)
      : options_(options), max_gap_s_(max_gap_s) {}
  // Smooths `keypoints` of person `id` seen at `time` (seconds, increasing per person) in place.
  void smooth(int id, Keypoints2D& keypoints, double time);
  void reset() { tracks_.clear(); }

 private:
  struct Track {
    OneEuroFilter filter;
    double last_time = 0.0;
  };
  OneEuroOptions options_;
  double max_gap_s_;
  std::map<int, Track> tracks_;
  Eigen::VectorXd values_;  // work buffer
};

// Smooths one person's keypoints over the consecutive frames of a recorded video, all frames known: each
// joint's x, y (and depth, where every frame has depths) becomes the Gaussian-weighted mean of its values in
// the frames where it is seen (Keypoints2D::valid) in the same joint set, sigma in frames, the kernel cut at
// 3 sigma. Unlike the One-Euro filter it looks ahead as well as back, so a moving joint does not lag.
// Confidences, the joints not seen in a frame and missing (non-finite) depths stay as they are. A sigma of 0
// (or less) changes nothing.
// With outlier_scale > 0 the weights are also robust: a sample d pixels from the window's median point weighs
// 1 / (1 + (d / tau)^2) as much, tau = outlier_scale times the pose's RMS radius in that frame.
void smooth_keypoint_sequence(std::vector<Keypoints2D>& frames, double sigma_frames, double outlier_scale = 0.0);

}  // namespace monobody
