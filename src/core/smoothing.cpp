#include <algorithm>
#include <cmath>

#include "monobody/smoothing.hpp"

namespace monobody {
namespace {

// Smoothing factor of an exponential filter with the given cut-off for a sample interval dt.
double alpha(double cutoff_hz, double dt) {
  const double tau = 1.0 / (2.0 * M_PI * cutoff_hz);
  return 1.0 / (1.0 + tau / dt);
}

}  // namespace

Eigen::VectorXd OneEuroFilter::filter(const Eigen::VectorXd& value, double time) {
  if (!initialised_ || value_.size() != value.size()) {
    value_ = value;
    derivative_ = Eigen::VectorXd::Zero(value.size());
    last_time_ = time;
    initialised_ = true;
    return value;
  }
  const double dt = time - last_time_;
  if (!(dt > 0)) return value_;  // a repeated or out-of-order time stamp: nothing new to learn
  last_time_ = time;
  const double a_d = alpha(options_.derivative_cutoff_hz, dt);
  Eigen::VectorXd out = value;
  for (Eigen::Index i = 0; i < value.size(); ++i) {
    if (!std::isfinite(value[i])) continue;
    if (!std::isfinite(value_[i])) {  // this component comes back: restart it
      value_[i] = value[i];
      derivative_[i] = 0;
      continue;
    }
    const double d = (value[i] - value_[i]) / dt;
    derivative_[i] += a_d * (d - derivative_[i]);
    const double cutoff = options_.min_cutoff_hz + options_.beta * std::abs(derivative_[i]);
    value_[i] += alpha(cutoff, dt) * (value[i] - value_[i]);
    out[i] = value_[i];
  }
  return out;
}

void KeypointSmoother::smooth(int id, Keypoints2D& kp, double time) {
  auto [it, fresh] = tracks_.try_emplace(id, Track{OneEuroFilter(options_), time});
  Track& track = it->second;
  if (!fresh && time - track.last_time > max_gap_s_) track.filter.reset();
  track.last_time = time;
  const bool depth = kp.depth.size() == kp.size();
  values_.resize(3 * kp.size());
  for (int j = 0; j < kp.size(); ++j) values_.segment<3>(3 * j) << kp.xy(0, j), kp.xy(1, j), depth ? kp.depth[j] : 0.0;
  values_ = track.filter.filter(values_, time);
  for (int j = 0; j < kp.size(); ++j) {
    kp.xy.col(j) = values_.segment<2>(3 * j);
    if (depth) kp.depth[j] = values_[3 * j + 2];
  }
}

void smooth_keypoint_sequence(std::vector<Keypoints2D>& frames, double sigma_frames, double outlier_scale) {
  if (!(sigma_frames > 0) || frames.size() < 2) return;
  const int n = int(frames.size());
  // The kernel never needs to reach past the clip (and an enormous sigma must not overflow the int). 3 sigma
  // from a frame interval is whole only up to rounding (0.1 s at 30 fps is 3.0000000000000004 frames): the slack
  // keeps that from adding a frame, so the reach agrees with the look-ahead the pipeline waits for (0.3 s).
  const int reach = int(std::min(std::ceil(3.0 * sigma_frames - 1e-6), double(n)));
  std::vector<double> kernel(std::size_t(reach + 1));
  for (int d = 0; d <= reach; ++d) kernel[std::size_t(d)] = std::exp(-0.5 * d * d / (sigma_frames * sigma_frames));
  const std::vector<Keypoints2D> original = frames;
  const bool depth = std::all_of(original.begin(), original.end(), [](const Keypoints2D& k) {
    return k.depth.size() == k.size();
  });
  // Work buffers for the window's median (reused: no allocation per joint once they have grown).
  std::vector<double> xs, ys;
  for (int t = 0; t < n; ++t) {
    Keypoints2D& out = frames[std::size_t(t)];
    // The robust weights' scale: a fraction of the pose's size in this frame (RMS distance of its seen
    // keypoints from their centroid), so that it means the same for a near and a far person.
    double tau = 0.0;
    if (outlier_scale > 0) {
      Eigen::Vector2d centre = Eigen::Vector2d::Zero();
      int seen = 0;
      for (int j = 0; j < out.size(); ++j)
        if (out.valid(j)) centre += out.xy.col(j), ++seen;
      if (seen >= 2) {
        centre /= seen;
        double sq = 0.0;
        for (int j = 0; j < out.size(); ++j)
          if (out.valid(j)) sq += (out.xy.col(j) - centre).squaredNorm();
        tau = outlier_scale * std::sqrt(sq / seen);
      }
    }
    for (int j = 0; j < out.size(); ++j) {
      if (!out.valid(j)) continue;
      const int first = std::max(0, t - reach), last = std::min(n - 1, t + reach);
      // The window's median point: a sample far from it (a detector's swap of left and right, a stray
      // keypoint) weighs little, so one bad frame does not leak into its neighbours.
      Eigen::Vector2d median(0.0, 0.0);
      if (tau > 0) {
        xs.clear();
        ys.clear();
        for (int u = first; u <= last; ++u) {
          const Keypoints2D& k = original[std::size_t(u)];
          if (k.joint_set == out.joint_set && k.valid(j)) xs.push_back(k.xy(0, j)), ys.push_back(k.xy(1, j));
        }
        std::nth_element(xs.begin(), xs.begin() + std::ptrdiff_t(xs.size() / 2), xs.end());
        std::nth_element(ys.begin(), ys.begin() + std::ptrdiff_t(ys.size() / 2), ys.end());
        median << xs[xs.size() / 2], ys[ys.size() / 2];
      }
      // Points and depths are weighted apart: a frame whose depth is missing still lends its point.
      Eigen::Vector2d point = Eigen::Vector2d::Zero();
      double point_weight = 0.0, depth_sum = 0.0, depth_weight = 0.0;
      for (int u = first; u <= last; ++u) {
        const Keypoints2D& k = original[std::size_t(u)];
        if (k.joint_set != out.joint_set || !k.valid(j)) continue;
        double w = kernel[std::size_t(std::abs(u - t))];
        if (tau > 0) w /= 1.0 + (k.xy.col(j) - median).squaredNorm() / (tau * tau);
        point += w * k.xy.col(j);
        point_weight += w;
        if (depth && std::isfinite(k.depth[j])) depth_sum += w * k.depth[j], depth_weight += w;
      }
      out.xy.col(j) = point / point_weight;  // the frame itself is among them
      if (depth && std::isfinite(out.depth[j]) && depth_weight > 0) out.depth[j] = depth_sum / depth_weight;
    }
  }
}

}  // namespace monobody
