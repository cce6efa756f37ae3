// Tracks from a result: each person id with body parameters, through the frames it appears in.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "export_frames.hpp"
#include "monobody/error.hpp"
#include "monobody/export.hpp"

namespace monobody {

namespace detail {

void check_track(const BodyModel& model, const BodyTrack& track) {
  const std::string who = "person " + std::to_string(track.id);
  if (track.poses.empty()) throw Error(who + ": the track has no poses");
  if (track.shape.size() > model.num_shapes())
    throw Error(who + ": " + std::to_string(track.shape.size()) + " shape coefficients, body model " + model.name +
                " has " + std::to_string(model.num_shapes()));
  for (const BodyPose& p : track.poses) {
    if (p.pose.size() != 3 * model.num_joints())
      throw Error(who + ": a pose has " + std::to_string(p.pose.size()) + " numbers, body model " + model.name +
                  " needs " + std::to_string(3 * model.num_joints()));
    if (!p.pose.allFinite() || !p.global_orient.allFinite() || !p.translation.allFinite())
      throw Error(who + ": a pose has non-finite numbers");
  }
}

void check_fps(double fps) {
  if (!std::isfinite(fps) || fps <= 0) throw Error("frame rate must be positive, got " + std::to_string(fps));
}

}  // namespace detail

namespace {

double median(std::vector<double> values) {
  const std::size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + long(mid), values.end());
  if (values.size() % 2) return values[mid];
  return 0.5 * (values[mid] + *std::max_element(values.begin(), values.begin() + long(mid)));
}

}  // namespace

std::vector<BodyTrack> body_tracks(const Result& result) {
  struct Seen {
    int frame;
    const BodyParameters* body;
  };
  std::map<int, std::vector<Seen>> by_id;  // ordered: tracks come out sorted by id
  for (std::size_t f = 0; f < result.frames.size(); ++f) {
    for (const Person& person : result.frames[f].people) {
      if (!person.body) continue;
      auto& seen = by_id[person.id];
      if (!seen.empty() && seen.back().frame == int(f)) continue;  // a repeated id in one frame: keep the first
      seen.push_back({int(f), &*person.body});
    }
  }

  std::vector<BodyTrack> tracks;
  for (const auto& [id, seen] : by_id) {
    BodyTrack track;
    track.id = id;
    track.first_frame = seen.front().frame;
    const long shapes = seen.front().body->shape.size();
    track.shape.resize(shapes);
    for (long k = 0; k < shapes; ++k) {
      std::vector<double> values;
      for (const Seen& s : seen) {
        if (s.body->shape.size() != shapes)
          throw Error("person " + std::to_string(id) + " has shapes of different sizes in different frames");
        values.push_back(s.body->shape[k]);
      }
      track.shape[k] = median(std::move(values));
    }
    // Frames in between without this person hold its last pose, so the track stays one frame per frame.
    std::size_t next = 0;
    for (int f = track.first_frame; f <= seen.back().frame; ++f) {
      if (next < seen.size() && seen[next].frame == f) {
        const BodyParameters& b = *seen[next++].body;
        BodyPose pose;
        pose.pose = b.pose;
        pose.global_orient = b.global_orient;
        pose.translation = b.translation;
        track.poses.push_back(std::move(pose));
      } else {
        track.poses.push_back(track.poses.back());
      }
    }
    tracks.push_back(std::move(track));
  }
  return tracks;
}

}  // namespace monobody
