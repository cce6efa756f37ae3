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

}  // namespace monobody
