// Feet that do not slide: a post-process on the fitted bodies of a video.
//
// Monocular depth wobbles from frame to frame, so a person standing still seems to slide. Where a foot is in
// contact with the ground (slow, and the lower foot) we move the whole body so that foot stays put. The
// correction is an offset carried from frame to frame: it changes only during contacts (continuous at their
// start) and decays back to zero in between, so it never jumps and never accumulates into a drift.
#include <algorithm>
#include <limits>
#include <map>

#include "monobody/pipeline.hpp"

namespace monobody {
namespace {

struct Sample {
  Person* person;
  int frame;
  Eigen::Vector3d feet[2];  // left, right ankle, camera frame
};

}  // namespace

int pin_feet(Result& result, const BodyModel& model, double fps, double speed_mps) {
  const int foot_joint[2] = {model.joint("left_foot"), model.joint("right_foot")};
  std::map<int, std::vector<Sample>> tracks;
  BodyPoser poser(model);
  for (FrameResult& frame : result.frames)
    for (Person& person : frame.people) {
      if (!person.body) continue;
      const BodyParameters& b = *person.body;
      poser.pose({b.shape, b.pose, b.global_orient, b.translation});
      tracks[person.id].push_back({&person, frame.frame, {poser.joints().col(foot_joint[0]), poser.joints().col(foot_joint[1])}});
    }

  const double dt = 1.0 / (fps > 0 ? fps : 30.0);
  const int half_window = 5;         // speed: least-squares slope over +-5 frames, so single-frame jitter averages out
  const int grace = 5;               // frames a foot may lose its contact and come back to the same anchor
  const double decay = 0.9;          // per frame between contacts: back to zero within about a second
  const double lower_margin = 0.03;  // metres: both feet count as "lower" when this close in height
  int corrected = 0;
  for (auto& [id, samples] : tracks) {
    const int n = int(samples.size());
    auto speed = [&](int i, int foot) {
      int a = i, b = i;  // the contiguous frames around i, at most half_window each side
      while (a > 0 && i - a < half_window && samples[std::size_t(a - 1)].frame == samples[std::size_t(a)].frame - 1) --a;
      while (b < n - 1 && b - i < half_window && samples[std::size_t(b + 1)].frame == samples[std::size_t(b)].frame + 1) ++b;
      if (b - a < 2) return std::numeric_limits<double>::infinity();
      const double mid = 0.5 * (a + b);
      Eigen::Vector3d num = Eigen::Vector3d::Zero();
      double den = 0;
      for (int k = a; k <= b; ++k) num += (k - mid) * samples[std::size_t(k)].feet[foot], den += (k - mid) * (k - mid);
      return (num / den).norm() / dt;
    };
    Eigen::Vector3d offset = Eigen::Vector3d::Zero(), anchor = Eigen::Vector3d::Zero();
    int pinned = -1, last_contact = -1000;
    for (int i = 0; i < n; ++i) {
      const Sample& s = samples[std::size_t(i)];
      if (i > 0 && s.frame != samples[std::size_t(i - 1)].frame + 1) offset.setZero(), pinned = -1, last_contact = -1000;
      const Eigen::Vector3d previous_offset = offset;
      int best = -1;
      double best_speed = speed_mps;
      for (int foot = 0; foot < 2; ++foot) {
        // Camera y points down: the lower foot has the larger y (for a roughly level camera).
        const bool lower = s.feet[foot].y() >= s.feet[1 - foot].y() - lower_margin;
        const double v = lower ? speed(i, foot) : speed_mps;
        if (v < best_speed || (v < speed_mps && foot == pinned)) best = foot, best_speed = v;  // prefer the held foot
      }
      if (best < 0) {
        offset *= decay;
      } else {
        // A contact starts where that foot was (corrected) in the previous frame, so nothing jumps; the same foot
        // coming back within the grace period returns to its anchor.
        const bool contiguous = i > 0 && samples[std::size_t(i - 1)].frame == s.frame - 1;
        if (best != pinned || i - last_contact > grace)
          anchor = contiguous ? Eigen::Vector3d(samples[std::size_t(i - 1)].feet[best] + previous_offset) : s.feet[best];
        pinned = best;
        last_contact = i;
        offset = anchor - s.feet[best];
      }
      if (offset.isZero(0.0)) continue;
      Person& person = *s.person;
      person.body->translation += offset;
      // 3D joints placed in the camera move with the body; root-relative ones (`monobody lift`'s) have no place.
      const auto lift = person.extras.find("lift");
      const bool root_relative = lift != person.extras.end() && lift->is_object() && lift->contains("root_relative") &&
                                 (*lift)["root_relative"] == true;
      if (person.joints3d && !root_relative) person.joints3d->xyz.colwise() += offset;
      ++corrected;
    }
  }
  return corrected;
}

}  // namespace monobody
