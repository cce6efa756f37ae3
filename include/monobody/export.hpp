// Hand fitted people to the tools people already use: BVH (Blender, Unity, MotionBuilder), glTF 2.0 binary
// (.glb: the skinned mesh and its animation) and a self-contained HTML viewer (three.js, no network).
//
// Frames. monobody's results are in the OpenCV camera frame (x right, y down, z forward, metres). BVH and glTF
// are y-up: both files use the camera frame turned 180 degrees about x, (x, y, z) -> (x, -y, -z), so the camera
// sits at the origin looking along -z (glTF's camera convention) and an upright person stands upright. The body
// model's own frame is already y-up, so bone offsets and local joint rotations are written as they are; only the
// root's rotation and position carry the frame change.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "monobody/body.hpp"
#include "monobody/camera.hpp"
#include "monobody/image.hpp"
#include "monobody/result.hpp"

namespace monobody {

// One person through a photo or a video: one body shape, one pose per frame.
struct BodyTrack {
  int id = 0;                    // the person id of the result
  Eigen::VectorXd shape;         // the whole track's shape coefficients
  int first_frame = 0;           // the frame index of poses[0]
  std::vector<BodyPose> poses;   // consecutive frames, gaps filled; BodyPose::shape is ignored
};

// Groups the people of a result that have body parameters into tracks by id. Frames where a person is missing
// are filled by holding the previous pose (short gaps) and the track's shape is the median over its frames.
std::vector<BodyTrack> body_tracks(const Result& result);

// BVH of one track: the model's skeleton with its bone offsets for the track's shape (metres), root channels
// Xposition Yposition Zposition Zrotation Xrotation Yrotation, the others Zrotation Xrotation Yrotation (degrees).
// Written atomically; throws monobody::Error for an empty track or a model/track mismatch.
void write_bvh(const std::filesystem::path& path, const BodyModel& model, const BodyTrack& track, double fps);

// glTF 2.0 binary: per track a skinned mesh (the shaped rest mesh, the model's skeleton as nodes, inverse bind
// matrices) and, with more than one frame, one animation holding every track (root translation, joint rotations).
std::vector<std::uint8_t> glb_bytes(const BodyModel& model, const std::vector<BodyTrack>& tracks, double fps);
void write_glb(const std::filesystem::path& path, const BodyModel& model, const std::vector<BodyTrack>& tracks,
               double fps);

// What the viewer shows: the scene, the picture(s) behind it seen through the real camera, and playback.
struct ViewerContent {
  std::string title;
  std::vector<std::uint8_t> glb;                      // from glb_bytes
  PinholeCamera<double> camera;                       // the photo's intrinsics: the viewer starts there
  int image_width = 0, image_height = 0;
  std::vector<std::vector<std::uint8_t>> frames_jpeg; // background: one for a photo, a subsample for a video
  int frame_step = 1;                                 // video frames between consecutive background pictures
  double fps = 30.0;
};
// One HTML file with everything inlined (three.js and its loaders from the npm package set up by
// scripts/setup.sh, the .glb and the pictures as base64): orbit controls, "camera view" reset, play/pause and
// a frame slider for video. Throws monobody::Error when the bundled three.js files are missing (run setup).
void write_viewer_html(const std::filesystem::path& path, const ViewerContent& content);

// Where the viewer takes three.js from: third_party/npm/three in the source tree (scripts/setup.sh puts it
// there), or $MONOBODY_THREE_DIR when set.
std::filesystem::path default_three_dir();

// A picture as JPEG bytes, e.g. for ViewerContent::frames_jpeg; shrunk to max_width pixels wide when it is
// wider (0: keep the size).
std::vector<std::uint8_t> jpeg_bytes(const ImageView& image, int quality = 90, int max_width = 0);

}  // namespace monobody
