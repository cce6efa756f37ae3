// The whole job: image -> people and 2D keypoints -> 3D joints -> body mesh, for photos and for video.
//
//   Pipeline pipeline({.model = PoseModel::Lite});
//   FrameResult photo = pipeline.process_photo(image.view(), "photo.jpg", camera);
//   // a recorded video, looking ahead (see push_video_frame):
//   for (each frame) {
//     pipeline.push_video_frame(frame.view(), "clip.mp4", index, seconds, camera);
//     while (auto done = pipeline.pop_video_frame()) results.push_back(std::move(*done));
//   }
//   while (auto done = pipeline.pop_video_frame(true)) results.push_back(std::move(*done));
//   // or streaming, looking back only: pipeline.process_video_frame(frame.view(), "clip.mp4", index, seconds, camera)
//
// Each stage stays usable alone (PoseDetector, the lifters, BodyFitter); this file only wires them, and adds
// what video needs between them: keypoint smoothing per tracked person, and warm-started body fits with one body
// shape per person (BodyTrackFitter).
#pragma once

#include <Eigen/Core>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "monobody/body.hpp"
#include "monobody/camera.hpp"
#include "monobody/detect.hpp"
#include "monobody/image.hpp"
#include "monobody/keypoints.hpp"
#include "monobody/lift.hpp"
#include "monobody/ordinal.hpp"
#include "monobody/result.hpp"
#include "monobody/smoothing.hpp"

namespace monobody {

struct PipelineOptions {
  PoseModel model = PoseModel::Full;
  int max_people = 4;
  int detection_tiles = 2;                        // also look for small people in 2 x 2 zoomed tiles
  int threads = 1;
  LifterKind lifter = LifterKind::MlpOrdinal;
  std::filesystem::path lifter_model;             // empty: the default of the chosen lifter
  std::vector<OrdinalRelation> relations;         // user's relations (H36M-17 joints), applied to every person
  bool fit_body = true;
  std::filesystem::path body_model;               // empty: models/body/monobody_body_v1.bin
  bool silhouette = true;                         // use the segmentation mask in the body fit
  // Video.
  bool smooth = true;
  OneEuroOptions smoothing;                       // on the keypoints, in pixels (streaming: process_video_frame)
  int shape_frames = kBodyShapeSettleFits;        // a person's shape settles over this many fitted frames
  double min_visibility = 0.5;                    // keypoints below it do not count for lifting and fitting
};

// Per-stage wall-clock seconds, summed over the calls since construction.
struct PipelineTimings {
  double detect = 0, lift = 0, fit = 0;
  int frames = 0, people = 0;
};

class Pipeline {
 public:
  // Loads the networks and models once; throws monobody::Error for a missing or corrupt model file.
  explicit Pipeline(PipelineOptions options = {});
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // A photo: every person found, lifted (joints3d in metres, camera frame) and fitted (body). People whose
  // keypoints cannot be lifted or fitted are kept with what worked and a note in extras["warnings"].
  FrameResult process_photo(const ImageView& image, const std::string& source, const PinholeCamera<double>& camera);
  // One frame of a video (call in order; `time` in seconds): tracked ids, smoothed keypoints, warm-started fits.
  // Streaming: the keypoints' One-Euro filter (PipelineOptions::smoothing) looks back only.
  FrameResult process_video_frame(const ImageView& frame, const std::string& source, int index, double time,
                                  const PinholeCamera<double>& camera);
  // A recorded video, with look-ahead: push each frame in order, then pop the finished ones. A frame comes out
  // once the frames 0.3 s after it are in (3 sigma of kMlpSequenceSigmaSeconds), its people's keypoints
  // smoothed looking ahead as well as back (smooth_keypoint_sequence, as `lift --temporal` does), so a moving
  // joint does not lag; pass end_of_video = true after the last push to drain the rest. The pipeline keeps the
  // people of the last 0.6 s, and for the 0.3 s not yet finished their silhouettes (a byte per pixel) and
  // heatmaps, never the pictures. The smoothing runs over a person's consecutive frame numbers: push every
  // frame (a frame that skips a number starts a new run, unsmoothed at its edge). Human3.6M S9 from
  // detections: P1 70.6 mm with this smoothing against 72.2 with the One-Euro filter
  // (models/lift-h36m/NOTICE.md).
  void push_video_frame(const ImageView& frame, const std::string& source, int index, double time,
                        const PinholeCamera<double>& camera);
  std::optional<FrameResult> pop_video_frame(bool end_of_video = false);
  // Starts a new video.
  void reset();

  const BodyModel* body_model() const;  // nullptr without body fitting
  const PipelineTimings& timings() const;
  const PipelineOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The camera of a picture: the user's intrinsics if given, else a focal length in pixels if given, else the
// focal length recorded in the JPEG's EXIF (35 mm equivalent, or the focal length and the focal-plane
// resolution), else default_camera (focal = the image diagonal). `how` says which one was used.
PinholeCamera<double> picture_camera(const std::filesystem::path& picture, int width, int height,
                                     const std::optional<PinholeCamera<double>>& user_camera, double user_focal_px,
                                     std::string* how = nullptr);
// The focal length in pixels from a JPEG's EXIF data, if it has one.
std::optional<double> exif_focal_px(const std::filesystem::path& jpeg, int width, int height);
// Intrinsics from a JSON file: {"fx", "fy", "cx", "cy", optional "distortion": [k1, k2, p1, p2, k3]}, or
// {"K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], "dist": [...]} as OpenCV's calibration tools write it.
PinholeCamera<double> read_camera_json(const std::filesystem::path& path);

// Keeps the feet of each tracked body still while they touch the ground: a foot that moves slower than
// `speed_mps` (and is the lower foot) is a contact; during a contact the body's translation is corrected so the
// foot stays where the contact began, blended in and out over a few frames; 3D joints placed in the camera move
// with it (not root-relative ones, extras.lift.root_relative). `fps`: the video's own rate (video_frame_rate),
// frames being consecutive when their numbers are. Returns the number of corrected frames.
int pin_feet(Result& result, const BodyModel& model, double fps, double speed_mps = 0.25);

}  // namespace monobody
