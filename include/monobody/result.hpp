// The result of a monobody run, and its versioned JSON form ("monobody.result", version 1).
//
// {
//   "schema": "monobody.result", "version": 1, "generator": "monobody 0.1.0",
//   "frames": [{
//     "source": "messi5.jpg", "frame": 0, "time": 0.0, "image_size": [548, 342],
//     "camera": {"fx": .., "fy": .., "cx": .., "cy": .., "distortion": [k1, k2, p1, p2, k3]},
//     "people": [{
//       "id": 0, "score": 0.98, "bbox": [x, y, width, height],
//       "keypoints2d": {"joint_set": "blazepose33", "points": [[x, y, confidence], ...], "depth": [...]},
//       "joints3d": {"joint_set": "h36m17", "frame": "camera", "units": "m", "points": [[x, y, z, conf], ...]},
//       "body": {"model": "...", "shape": [...], "pose": [...], "global_orient": [3], "translation": [3]},
//       "extras": {...}
//     }]
//   }]
// }
// Pixels follow OpenCV; 3D is in metres in the camera frame (x right, y down, z forward).
#pragma once

#include <Eigen/Core>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "monobody/camera.hpp"
#include "monobody/keypoints.hpp"

namespace monobody {

inline constexpr const char* kResultSchema = "monobody.result";
inline constexpr int kResultVersion = 1;

struct BodyParameters {
  std::string model;                 // which body model the parameters belong to
  Eigen::VectorXd shape;             // shape coefficients
  Eigen::VectorXd pose;              // axis-angle per joint, 3 per joint
  Eigen::Vector3d global_orient = Eigen::Vector3d::Zero();
  Eigen::Vector3d translation = Eigen::Vector3d::Zero();  // metres, camera frame
};

struct Person {
  int id = 0;                        // stable across the frames of a video
  double score = 0.0;                // detection confidence in [0, 1]
  Eigen::Vector4d bbox = Eigen::Vector4d::Zero();  // x, y, width, height in pixels
  std::optional<Keypoints2D> keypoints2d;
  std::optional<Joints3D> joints3d;  // camera frame, metres
  std::optional<BodyParameters> body;
  nlohmann::json extras = nlohmann::json::object();  // stage-specific data (e.g. BlazePose world landmarks)
};

struct FrameResult {
  std::string source;                // input file name
  int frame = 0;                     // frame index in a video, 0 for an image
  double time = 0.0;                 // seconds from the start of the video
  int image_width = 0;
  int image_height = 0;
  std::optional<PinholeCamera<double>> camera;
  std::vector<Person> people;
};

struct Result {
  std::string generator;
  std::vector<FrameResult> frames;
};

nlohmann::json to_json(const Result& result);
// Validates everything (schema name, version, types, joint counts, finite numbers) and throws
// monobody::Error with the JSON path of the first problem, e.g. "frames[0].people[1].keypoints2d: ...".
Result result_from_json(const nlohmann::json& json);

// Frames per second of a result's frames, from the first and last frame's times: a video processed every n-th
// frame has 1/n of the video's rate (one BVH or glTF frame per result frame). 30 without a span of time.
double result_frame_rate(const Result& result);
// The video's own frame rate, from the frame numbers and times (what a per-video-frame quantity such as a speed
// needs). 30 without a span of time or of frame numbers.
double video_frame_rate(const Result& result);

Result read_result(const std::filesystem::path& path);
void write_result(const std::filesystem::path& path, const Result& result);  // atomic

}  // namespace monobody
