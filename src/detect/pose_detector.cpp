// The BlazePose pipeline: detector -> regions -> landmark model per person, for photos and for video
// (regions follow each person's landmarks from frame to frame; the detector runs only to (re)find people).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "blazepose.hpp"
#include "monobody/detect.hpp"
#include "monobody/error.hpp"
#include "monobody/nn.hpp"

namespace monobody {
namespace {
namespace fs = std::filesystem;
using namespace blazepose;

fs::path default_model_dir() {
  if (const char* env = std::getenv("MONOBODY_MODELS"); env && *env) return env;
  const char* src = std::getenv("MONOBODY_SOURCE_DIR");
#ifdef MONOBODY_SOURCE_DIR
  if (!src || !*src) src = MONOBODY_SOURCE_DIR;
#endif
  return fs::path(src ? src : ".") / "models";
}

std::unique_ptr<nn::Model> load_model(const fs::path& path, int threads) {
  if (!fs::exists(path)) throw Error("model file not found: " + path.string() + " (run scripts/setup.sh)");
  return nn::Model::load(path, {nn::Backend::Xnnpack, std::max(1, threads)});
}

std::size_t element_count(const std::vector<int>& shape) {
  std::size_t n = 1;
  for (int d : shape) n *= std::size_t(std::max(d, 0));
  return n;
}

// The output whose element count is `count` (the BlazePose outputs all differ in size).
int output_with_size(const nn::Model& model, std::size_t count, const fs::path& path, const char* what) {
  for (int i = 0; i < model.output_count(); ++i)
    if (element_count(model.output_shape(i)) == count) return i;
  throw Error(path.string() + ": not a BlazePose " + what + " model (no output of " + std::to_string(count) +
              " values)");
}

void expect_input(const nn::Model& model, int size, const fs::path& path) {
  const std::vector<int> expected = {1, size, size, 3};
  if (model.input_count() != 1 || model.input_shape(0) != expected)
    throw Error(path.string() + ": expected one input of shape [1, " + std::to_string(size) + ", " +
                std::to_string(size) + ", 3]");
}

// Whether two poses are the same person: their landmarks lie close together for the pose's size.
bool same_person(const Pose& a, const Pose& b) {
  const double size = std::max(1.0, std::min(a.roi.width, b.roi.width));
  const double mean = (a.landmarks.topRows<2>() - b.landmarks.topRows<2>()).colwise().norm().mean();
  return mean < 0.08 * size;
}

}  // namespace

struct PoseDetector::Impl {
  PoseDetectorOptions options;
  std::unique_ptr<nn::Model> detector, landmark;
  int regressors = 0, scores = 0;
  int landmarks = 0, pose_flag = 0, segmentation = 0, heatmaps = 0, world = 0;
  CropScratch scratch;
  std::vector<float> mirrored_input, mirrored_segmentation;

  struct Track {
    int id;
    RotatedRect roi;
  };
  std::vector<Track> tracks;
  // People lost in the last frames, so that a person found again where one was lost keeps their id.
  struct Lost {
    int id;
    RotatedRect roi;
    int frames_ago;
  };
  std::vector<Lost> lost;
  int next_id = 0;
  int frames_since_detection = 0;
  std::optional<double> last_timestamp;

  LandmarkTensors outputs() const {
    return {landmark->output(landmarks), landmark->output(pose_flag), landmark->output(segmentation),
            landmark->output(heatmaps), landmark->output(world)};
  }

  Pose run_landmarks(const ImageView& image, const RotatedRect& roi) {
    const std::span<float> input = landmark->input(0);
    crop_to_tensor(image, roi, kLandmarkInputSize, 0.0f, 1.0f, input, scratch,
                   options.replicate_border ? Border::Replicate : Border::Black);
    landmark->invoke();
    CropLandmarks crop = decode_crop_landmarks(outputs(), options.refine_with_heatmaps);
    Pose pose;
    if (options.heatmaps) pose.heatmaps = heatmaps_to_image(landmark->output(heatmaps), roi);
    std::span<const float> seg = landmark->output(segmentation);
    if (options.flip_average) {
      // Keep this pass's mask, run the mirrored crop, and average the two answers in the crop.
      mirrored_segmentation.assign(seg.begin(), seg.end());
      mirrored_input.assign(input.begin(), input.end());
      constexpr int n = kLandmarkInputSize;
      for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x)
          std::copy_n(&mirrored_input[(std::size_t(y) * n + std::size_t(n - 1 - x)) * 3], 3,
                      &input[(std::size_t(y) * n + std::size_t(x)) * 3]);
      landmark->invoke();
      crop = average(crop, unmirror(decode_crop_landmarks(outputs(), options.refine_with_heatmaps)));
      const std::span<const float> mirrored = landmark->output(segmentation);
      for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x)
          mirrored_segmentation[std::size_t(y) * n + std::size_t(x)] =
              0.5f * (mirrored_segmentation[std::size_t(y) * n + std::size_t(x)] +
                      mirrored[std::size_t(y) * n + std::size_t(n - 1 - x)]);
      seg = mirrored_segmentation;
    }
    to_image(crop, roi, pose);
    if (options.segmentation) pose.mask = mask_to_image(seg, kLandmarkInputSize, roi, image.width, image.height);
    return pose;
  }

  // One person from a starting region: the landmark pass, plus the optional passes on its own region.
  Pose person(const ImageView& image, const RotatedRect& start, int refine_passes) {
    Pose pose = run_landmarks(image, start);
    for (int pass = 0; pass < refine_passes && pose.presence >= options.min_pose_presence; ++pass) {
      Pose again = run_landmarks(image, next_roi(pose));
      if (again.presence >= pose.presence * 0.9) pose = std::move(again);
    }
    return pose;
  }

  // Adds poses for new detections (not already among `poses`), up to max_people.
  void add_detected(const ImageView& image, const std::vector<PoseDetection>& detections, int refine_passes,
                    std::vector<Pose>& poses) {
    for (const PoseDetection& d : detections) {
      if (int(poses.size()) >= options.max_people) break;
      const RotatedRect roi = roi_from_detection(d);
      // A detection centred on a pose we already have is that person again.
      const bool known = std::any_of(poses.begin(), poses.end(), [&](const Pose& p) {
        return (p.alignment.col(0) - d.keypoints.col(0)).norm() < 0.15 * std::max(p.roi.width, roi.width);
      });
      if (known) continue;
      Pose pose = person(image, roi, refine_passes);
      if (pose.presence < options.min_pose_presence) continue;
      if (std::any_of(poses.begin(), poses.end(), [&](const Pose& p) { return same_person(p, pose); })) continue;
      pose.detection = d;
      poses.push_back(std::move(pose));
    }
  }
};

PoseDetector::PoseDetector(const PoseDetectorOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.options = options;
  if (options.max_people < 1) throw Error("max_people must be at least 1");
  if (options.threads < 1) throw Error("threads must be at least 1");
  if (options.redetect_interval < 1) throw Error("redetect_interval must be at least 1");
  if (options.refine_passes < 0) throw Error("refine_passes must not be negative");
  if (options.detection_tiles < 0 || options.detection_tiles > 8) throw Error("detection_tiles must be in [0, 8]");
  const fs::path dir = options.model_dir.empty() ? default_model_dir() : options.model_dir;
  const fs::path detector_path = dir / "pose_detection.tflite";
  const fs::path landmark_path = dir / ("pose_landmark_" + std::string(to_string(options.model)) + ".tflite");
  m.detector = load_model(detector_path, options.threads);
  expect_input(*m.detector, kDetectorInputSize, detector_path);
  m.regressors = output_with_size(*m.detector, std::size_t(kAnchorCount) * kDetectorCoords, detector_path, "detector");
  m.scores = output_with_size(*m.detector, kAnchorCount, detector_path, "detector");
  m.landmark = load_model(landmark_path, options.threads);
  expect_input(*m.landmark, kLandmarkInputSize, landmark_path);
  m.landmarks = output_with_size(*m.landmark, std::size_t(kLandmarkCount) * kLandmarkValues, landmark_path, "landmark");
  m.pose_flag = output_with_size(*m.landmark, 1, landmark_path, "landmark");
  m.segmentation =
      output_with_size(*m.landmark, std::size_t(kLandmarkInputSize) * kLandmarkInputSize, landmark_path, "landmark");
  m.heatmaps = output_with_size(*m.landmark, std::size_t(kHeatmapSize) * kHeatmapSize * kLandmarkCount, landmark_path,
                                "landmark");
  m.world = output_with_size(*m.landmark, std::size_t(kLandmarkCount) * 3, landmark_path, "landmark");
}

PoseDetector::~PoseDetector() = default;

const PoseDetectorOptions& PoseDetector::options() const { return impl_->options; }

std::vector<PoseDetection> PoseDetector::detect_people(const ImageView& image) {
  if (image.empty()) throw Error("empty image");
  Impl& m = *impl_;
  std::vector<PoseDetection> found;
  auto look_in = [&](const RotatedRect& region) {
    crop_to_tensor(image, region, kDetectorInputSize, -1.0f, 1.0f, m.detector->input(0), m.scratch);
    m.detector->invoke();
    std::vector<PoseDetection> more = decode_detections(m.detector->output(m.regressors), m.detector->output(m.scores),
                                                        m.options.min_detection_score, region);
    found.insert(found.end(), more.begin(), more.end());
  };
  look_in(letterbox_region(image.width, image.height));
  std::vector<PoseDetection> people = weighted_nms(std::move(found), m.options.nms_iou);
  found.clear();
  if (const int n = m.options.detection_tiles; n > 0) {
    // Square tiles 1.3 / n of the longer side, spread evenly so that together they cover the image.
    const double side = std::min(1.3 * std::max(image.width, image.height) / n, double(std::max(image.width, image.height)));
    for (int ty = 0; ty < n; ++ty)
      for (int tx = 0; tx < n; ++tx) {
        auto centre = [&](int t, int size) {
          const double lo = std::min(side, double(size)) / 2.0, hi = size - lo;
          return n == 1 ? (size - 1) / 2.0 : lo + (hi - lo) * t / (n - 1) - 0.5;
        };
        look_in({Eigen::Vector2d(centre(tx, image.width), centre(ty, image.height)), side, side, 0.0});
      }
    // The tiles are for people the whole view missed. A tile that shows part of someone already found gives a
    // detection of the same face with other alignment points (the body is cut off); merged with the whole
    // view's, it spoiled the region (basketball1.png: the man on the right was lost), so it is dropped.
    // So is a tile's detection whose face lies inside the region of someone already found: a face the detector
    // imagined in the pattern of that person's clothes (basketball1.png again), or a person mostly hidden.
    const std::size_t whole_view = people.size();
    for (PoseDetection& d : weighted_nms(std::move(found), m.options.nms_iou)) {
      const bool known = std::any_of(people.begin(), people.begin() + std::ptrdiff_t(whole_view), [&](const PoseDetection& p) {
        const RotatedRect region = roi_from_detection(p);
        const Eigen::Vector2d face = d.box.head<2>() + d.box.tail<2>() / 2;
        return blazepose::box_iou(p.box, d.box) > 0.1 || (face - region.center).cwiseAbs().maxCoeff() < 0.5 * region.width;
      });
      if (!known) people.push_back(std::move(d));
    }
  }
  return people;
}

Pose PoseDetector::landmarks_in(const ImageView& image, const RotatedRect& roi) {
  if (image.empty()) throw Error("empty image");
  if (!(roi.width > 0 && roi.height > 0) || !roi.center.allFinite() || !std::isfinite(roi.rotation))
    throw Error("invalid region of interest");
  return impl_->run_landmarks(image, roi);
}

std::vector<Pose> PoseDetector::detect(const ImageView& image) {
  Impl& m = *impl_;
  std::vector<Pose> poses;
  m.add_detected(image, detect_people(image), m.options.refine_passes, poses);
  for (std::size_t i = 0; i < poses.size(); ++i) poses[i].id = int(i);
  return poses;
}

void PoseDetector::reset() {
  impl_->tracks.clear();
  impl_->lost.clear();
  impl_->frames_since_detection = 0;
  impl_->last_timestamp.reset();
}

std::vector<Pose> PoseDetector::detect_video(const ImageView& frame, double timestamp) {
  Impl& m = *impl_;
  if (frame.empty()) throw Error("empty video frame");
  if (!std::isfinite(timestamp) || (m.last_timestamp && timestamp <= *m.last_timestamp))
    throw Error("video timestamps must increase (got " + std::to_string(timestamp) + " after " +
                std::to_string(m.last_timestamp.value_or(0.0)) + ")");
  m.last_timestamp = timestamp;

  // Follow every tracked person into this frame; drop those the landmark model no longer sees, and
  // duplicates (two tracks that converged onto one person: the older id stays).
  std::vector<Pose> poses;
  for (auto& l : m.lost) ++l.frames_ago;
  std::erase_if(m.lost, [&](const Impl::Lost& l) { return l.frames_ago > m.options.redetect_interval + 5; });
  bool lost = false;  // someone faded out: look for them again now (merged duplicates do not count)
  for (const Impl::Track& track : m.tracks) {
    Pose pose = m.run_landmarks(frame, track.roi);
    if (pose.presence < std::min(m.options.min_tracking_presence, m.options.min_pose_presence)) {
      m.lost.push_back({track.id, track.roi, 0});
      lost = true;
      continue;
    }
    if (std::any_of(poses.begin(), poses.end(), [&](const Pose& p) { return same_person(p, pose); })) continue;
    pose.id = track.id;
    poses.push_back(std::move(pose));
  }
  ++m.frames_since_detection;
  if (int(poses.size()) < m.options.max_people &&
      (poses.empty() || lost || m.frames_since_detection >= m.options.redetect_interval)) {
    const std::size_t tracked = poses.size();
    m.add_detected(frame, detect_people(frame), 0, poses);
    for (std::size_t i = tracked; i < poses.size(); ++i) {
      // Someone found where a person was lost a moment ago is that person (within 3/4 of their region's size: a
      // track that fades out, e.g. behind a post, drifts a little first).
      const auto again = std::min_element(m.lost.begin(), m.lost.end(), [&](const Impl::Lost& a, const Impl::Lost& b) {
        return (a.roi.center - poses[i].roi.center).norm() < (b.roi.center - poses[i].roi.center).norm();
      });
      if (again != m.lost.end() && (again->roi.center - poses[i].roi.center).norm() < 0.75 * again->roi.width &&
          std::none_of(poses.begin(), poses.end(), [&](const Pose& p) { return p.id == again->id; })) {
        poses[i].id = again->id;
        m.lost.erase(again);
      } else {
        poses[i].id = m.next_id++;
      }
    }
    m.frames_since_detection = 0;
  }
  m.tracks.clear();
  for (const Pose& p : poses) m.tracks.push_back({p.id, next_roi(p)});
  std::sort(poses.begin(), poses.end(), [](const Pose& a, const Pose& b) { return a.id < b.id; });
  return poses;
}

}  // namespace monobody
