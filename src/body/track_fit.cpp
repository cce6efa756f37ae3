// BodyTrackFitter (body.hpp): a video's people fitted frame after frame, each from their own previous fit, with
// one shape per person.
#include <algorithm>
#include <map>
#include <mutex>

#include "monobody/body.hpp"
#include "monobody/error.hpp"

namespace monobody {
namespace {

// What a video keeps of one person between frames.
struct Track {
  int last_frame = -1;                    // of the last fit
  std::optional<BodyPose> body;           // that fit
  std::vector<Eigen::VectorXd> shapes;    // fitted shapes until the shape settles
  std::optional<Eigen::VectorXd> shape;   // the settled shape
  bool busy = false;                      // being fitted
};

// The median of each coefficient: one stray fit (a person half out of view) does not move it.
Eigen::VectorXd median_columns(const std::vector<Eigen::VectorXd>& shapes) {
  Eigen::VectorXd m(shapes.front().size());
  std::vector<double> v(shapes.size());
  for (Eigen::Index k = 0; k < m.size(); ++k) {
    for (std::size_t i = 0; i < shapes.size(); ++i) v[i] = shapes[i][k];
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
    m[k] = v[v.size() / 2];
  }
  return m;
}

}  // namespace

struct BodyTrackFitter::Impl {
  Impl(const BodyFitter& f, int shapes, int gap) : fitter(f), shape_frames(shapes), max_gap(gap) {}
  const BodyFitter& fitter;
  int shape_frames, max_gap;
  mutable std::mutex mutex;     // guards the map and its entries (a fit itself runs without it)
  std::map<int, Track> tracks;  // node-based: an entry stays put while others are added
};

BodyTrackFitter::BodyTrackFitter(const BodyFitter& fitter, int shape_frames, int max_gap)
    : impl_(std::make_unique<Impl>(fitter, shape_frames, max_gap)) {
  if (shape_frames < 1) throw Error("a person's shape needs at least one fitted frame to settle");
  if (max_gap < 1) throw Error("the largest gap between a person's frames must be at least 1");
}
BodyTrackFitter::~BodyTrackFitter() = default;

BodyPose BodyTrackFitter::fit(int id, int frame, BodyFitInput input, const BodyFitOptions& options,
                              BodyFitReport* report) {
  // The track is claimed under the lock and read into locals, the fit runs without it, and its outcome is
  // published under it again: a repeated id is a clear error, not a race.
  std::optional<BodyPose> previous;
  std::optional<Eigen::VectorXd> shape;
  Track* track;
  {
    const std::lock_guard lock(impl_->mutex);
    track = &impl_->tracks[id];
    if (track->busy || frame <= track->last_frame)
      throw Error("a person's frames must come in order, one fit each: frame " + std::to_string(frame) +
                  (track->busy || frame == track->last_frame ? " again (two people with one id?)"
                                                             : " after frame " + std::to_string(track->last_frame)));
    track->busy = true;
    if (track->body && frame - track->last_frame <= impl_->max_gap) previous = track->body;
    shape = track->shape;
  }
  input.initial = input.previous = previous ? &*previous : nullptr;
  input.shape = shape ? &*shape : nullptr;
  std::optional<BodyPose> body;
  try {
    body = impl_->fitter.fit(input, options, report);
  } catch (...) {
    const std::lock_guard lock(impl_->mutex);
    track->busy = false;
    throw;
  }
  const std::lock_guard lock(impl_->mutex);
  track->busy = false;
  track->last_frame = frame;
  track->body = body;
  if (!track->shape) {
    track->shapes.push_back(body->shape);
    if (int(track->shapes.size()) >= impl_->shape_frames) track->shape = median_columns(track->shapes);
  }
  return *body;
}

std::optional<Eigen::VectorXd> BodyTrackFitter::settled_shape(int id) const {
  const std::lock_guard lock(impl_->mutex);
  const auto it = impl_->tracks.find(id);
  return it == impl_->tracks.end() ? std::nullopt : it->second.shape;
}

void BodyTrackFitter::reset() {
  const std::lock_guard lock(impl_->mutex);
  impl_->tracks.clear();
}

}  // namespace monobody
