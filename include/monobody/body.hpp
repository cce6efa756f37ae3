// Statistical body models: a skinned mesh whose rest shape is linear in a few shape coefficients and whose
// pose is one axis-angle rotation per joint (linear blend skinning).
//
// monobody's own model (models/body/monobody_body_v1.bin) is learned by `monobody train-body-model` from the
// CC0 MakeHuman assets; users holding an SMPL licence can load an SMPL-format .npz instead.
//
// Model frame: metres, y up, z towards the body's front, x towards the body's left (as MakeHuman and SMPL).
// Posed vertices: X = R_global * (skinned rest vertex - root joint) + root joint + translation, i.e. the
// global orientation turns the body about its root joint; with R_global = diag(1, -1, -1) an upright person
// faces an OpenCV camera.
#pragma once

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "monobody/camera.hpp"
#include "monobody/keypoints.hpp"
#include "monobody/rotation.hpp"

namespace monobody {

// A named point of the body that is not a joint (nose, ears, heels, toe and finger tips, head top): a fixed
// linear combination of rest-pose vertices, skinned with the same combination of their weights.
struct BodyLandmark {
  std::string name;
  std::vector<std::pair<int, double>> vertices;  // (vertex, weight), weights sum to 1
};

// Gaussian prior over the joint rotations (axis-angle, 3 per joint), learned from motion capture, plus
// per-component limits (a box in axis-angle space) seen in the same data.
struct PosePrior {
  Eigen::VectorXd mean;               // 3J (root entries 0)
  Eigen::MatrixXd whitening;          // M x 3J: whitening * (pose - mean) ~ N(0, I)
  Eigen::VectorXd lower, upper;       // 3J limits, lower == upper == 0 for joints that never move
  bool empty() const { return mean.size() == 0; }
};

struct BodyModel {
  std::string name;                           // e.g. "monobody_body_v1", "smpl:<file name>"
  Eigen::Matrix3Xd template_vertices;         // 3 x V rest vertices at zero shape
  Eigen::MatrixXd shape_dirs;                 // 3V x K: vertex v's offset is rows 3v..3v+2 times the coefficients
  Eigen::MatrixXd pose_dirs;                  // 3V x 9(J-1) pose correctives (SMPL), empty for monobody's model
  Eigen::Matrix3Xi faces;                     // 3 x F triangles, counter-clockwise seen from outside
  std::vector<std::string> joint_names;       // snake case, e.g. "left_up_leg"
  std::vector<int> parents;                   // -1 for the root (joint 0); parents[j] < j
  Eigen::SparseMatrix<double, Eigen::RowMajor> joint_regressor;  // J x V: rest joints from rest vertices
  // Skinning weights, compressed rows: vertex v is influenced by skin_joint[k] with skin_weight[k] for
  // k in [skin_offset[v], skin_offset[v + 1]); the weights of a vertex sum to 1.
  std::vector<int> skin_offset, skin_joint;
  std::vector<double> skin_weight;
  std::vector<BodyLandmark> landmarks;
  // Shape from semantic parameters (gender, age, ... in MakeHuman's slider units, see semantic_names):
  // shape = semantic_map * [s; 1]. Empty for models without one.
  std::vector<std::string> semantic_names;
  Eigen::MatrixXd semantic_map;               // K x (S + 1)
  PosePrior pose_prior;

  int num_vertices() const { return int(template_vertices.cols()); }
  int num_joints() const { return int(parents.size()); }
  int num_shapes() const { return int(shape_dirs.cols()); }
  int joint(std::string_view name) const;     // throws monobody::Error naming the known joints
  int landmark(std::string_view name) const;  // throws monobody::Error
  // Shape coefficients for semantic parameters (throws if the model has no semantic map or sizes differ).
  Eigen::VectorXd shape_from_semantics(const Eigen::VectorXd& semantics) const;

  // Shape-dependent rest geometry, all linear in the shape coefficients.
  void shaped_vertices(const Eigen::VectorXd& shape, Eigen::Matrix3Xd& out) const;
  Eigen::Matrix3Xd rest_joints(const Eigen::VectorXd& shape) const;
  // Checks sizes, indices, finiteness and weight sums; throws monobody::Error describing the first problem.
  void validate() const;
};

// Reads monobody's binary format (.bin) or an SMPL-format .npz; validates everything and throws
// monobody::Error with a one-line reason for a missing, truncated, corrupt or inconsistent file.
BodyModel load_body_model(const std::filesystem::path& path);
BodyModel load_smpl_npz(const std::filesystem::path& path);
// monobody's binary format: a header (magic, version, payload size, CRC-32) and named typed arrays; shape
// directions stored as float16. Written atomically.
void save_body_model(const std::filesystem::path& path, const BodyModel& model);
// models/body/monobody_body_v1.bin in the source tree, or $MONOBODY_BODY_MODEL when set.
std::filesystem::path default_body_model_path();

// The pose: one axis-angle per joint (3J numbers; the root's entry is ignored, global_orient turns the body).
struct BodyPose {
  Eigen::VectorXd shape;
  Eigen::VectorXd pose;
  Eigen::Vector3d global_orient = Eigen::Vector3d::Zero();
  Eigen::Vector3d translation = Eigen::Vector3d::Zero();

  static BodyPose zero(const BodyModel& model);
};

// Poses a model: forward kinematics and linear blend skinning into buffers allocated once.
class BodyPoser {
 public:
  explicit BodyPoser(const BodyModel& model);

  // Computes joints() and vertices() for the pose. No allocations after the first call.
  void pose(const BodyPose& p);
  const Eigen::Matrix3Xd& joints() const { return joints_; }      // 3 x J posed joints
  const Eigen::Matrix3Xd& vertices() const { return vertices_; }  // 3 x V posed vertices
  Eigen::Vector3d landmark(int index) const;                      // a posed landmark, after pose()
  const BodyModel& model() const { return model_; }

 private:
  const BodyModel& model_;
  Eigen::Matrix3Xd rest_vertices_, rest_joints_, joints_, vertices_;
  std::vector<Eigen::Matrix<double, 3, 4>> skinning_;  // per joint: rest -> posed affine transform
  Eigen::VectorXd pose_feature_;
};

// Forward kinematics on any scalar (double or ceres::Jet): rest joints (3 x J, column-major in `rest`) and
// axis-angle rotations (3 per joint; joint 0 uses `global_orient`) -> per-joint skinning transforms
// (rotation R and translation t such that a rest point x moves to R x + t) and posed joints.
template <typename T>
void forward_kinematics(const std::vector<int>& parents, const T* rest, const T* pose, const T* global_orient,
                        const T* translation, Mat3<T>* rotations, Vec3<T>* offsets, Vec3<T>* posed_joints) {
  const int J = int(parents.size());
  for (int j = 0; j < J; ++j) {
    const Vec3<T> rest_j(rest[3 * j], rest[3 * j + 1], rest[3 * j + 2]);
    const Mat3<T> local = axis_angle_to_matrix<T>(Vec3<T>(j == 0 ? global_orient : pose + 3 * j));
    const int p = parents[std::size_t(j)];
    if (p < 0) {
      rotations[j] = local;
      posed_joints[j] = rest_j + Vec3<T>(translation[0], translation[1], translation[2]);
    } else {
      const Vec3<T> rest_p(rest[3 * p], rest[3 * p + 1], rest[3 * p + 2]);
      rotations[j] = rotations[p] * local;
      posed_joints[j] = posed_joints[p] + rotations[p] * (rest_j - rest_p);
    }
    offsets[j] = posed_joints[j] - rotations[j] * rest_j;
  }
}

// Height of the rest-pose mesh (top of the head to the soles), metres.
double body_height(const BodyModel& model, const Eigen::VectorXd& shape);

// Builds monobody's model from the MakeHuman assets (see `monobody train-body-model --help`): samples
// `samples` adult macro-slider combinations, learns `components` PCA shape directions (unit variance) and
// the semantic map, regresses joints and landmarks from vertices, and learns the pose prior from the CMU
// motion capture in `mocap_dir`. Deterministic for given options.
struct BodyModelBuildOptions {
  std::filesystem::path makehuman_dir;  // <shared data>/body/makehuman
  std::filesystem::path mocap_dir;      // <shared data>/mocap/cmu/expmap_li2018
  int samples = 600;
  int components = 16;
  std::uint64_t seed = 1;
  int mocap_frame_step = 2;             // use every n-th mocap frame
};
struct BodyModelBuildReport {
  double explained_variance = 0.0;      // fraction of the sampled shapes' variance the components keep
  double joint_regression_rms_mm = 0.0; // joints regressed from vertices vs. MakeHuman's joint definition
  double semantic_fit_rms_mm = 0.0;     // vertices from the semantic map vs. the sampled meshes (in the basis)
  int mocap_frames = 0;
};
BodyModel build_body_model(const BodyModelBuildOptions& options, BodyModelBuildReport* report = nullptr);

// --- Fitting ------------------------------------------------------------------------------------------------

// What a fit sees of one person. Everything is optional except the camera; keypoints of any joint set are
// matched to the model's joints and landmarks by name (unknown names are ignored).
struct BodyFitInput {
  PinholeCamera<double> camera;                // intrinsics (distortion is honoured)
  const Keypoints2D* keypoints = nullptr;      // pixels, with confidences
  const Joints3D* joints3d = nullptr;          // camera frame; compared root-relative (the lifters' output)
  const std::uint8_t* mask = nullptr;          // person silhouette, row-major, non-zero = person
  int mask_width = 0, mask_height = 0;
  const BodyPose* initial = nullptr;           // warm start (e.g. the previous video frame)
  // The previous video frame's fit: a temporal term pulls the pose, orientation and placement towards it
  // (BodyFitOptions::temporal_*), so that the body does not tremble with the keypoints' jitter.
  const BodyPose* previous = nullptr;
  // The person's known shape (e.g. settled over the first frames of a video: one shape per person): held fixed.
  const Eigen::VectorXd* shape = nullptr;
};

struct BodyFitOptions {
  double keypoint_sigma_px = 2.0;     // expected keypoint noise
  double keypoint_robust_px = 20.0;   // errors beyond this count less and less (Geman-McClure-like)
  // The lifted 3D joints (BodyFitInput::joints3d) are compared up to scale: a lifter's skeleton has its
  // training population's size, not this person's. On the round trip with the sparse lifter (fit --round-trip
  // 50 --lifter sparse) sigma 0.15 m gave the least error (0.10: 52, 0.15: 41, 0.25: 47 mm scale-aligned
  // vertices on 20 people); compared with their size at 0.05 m they made the fit worse than no lifter at all.
  double joints3d_sigma_m = 0.15;
  bool joints3d_scale_free = true;
  double silhouette_sigma_px = 2.0;
  double pose_prior_weight = 1.0;     // (3 helped on 8 walking poses but hurt on all 50: 77 -> 109 mm)
  double shape_prior_weight = 1.0;
  // Prior on the unposed height (metres): from one view size trades against depth, and the shape space spans
  // MakeHuman's whole range (about 1.1 to 2.4 m), so without it a real photo's person can come out child-sized.
  // Adults: 1.70 +- 0.10 m. A sigma of 0 turns it off (the synthetic round trip, whose people are drawn
  // uniformly over the sliders).
  double height_prior_m = 1.70;
  double height_prior_sigma_m = 0.10;
  int silhouette_samples = 120;       // mesh vertices kept inside the mask
  int contour_samples = 60;           // mask outline points pulled onto the mesh outline
  int silhouette_rounds = 2;          // re-associations of the outline
  int iterations = 25;                // per stage
  // Temporal term (with BodyFitInput::previous): how far a joint angle (radians) and the placement (metres)
  // may move from one frame to the next at the cost of one keypoint sigma.
  double temporal_sigma_rad = 0.15;
  double temporal_sigma_m = 0.05;
};

struct BodyFitReport {
  double keypoint_rms_px = 0.0;       // final reprojection error of the matched keypoints (confidence > 0)
  double silhouette_iou = 0.0;        // of the rendered fit and the mask (when there is one)
  int keypoints_used = 0;
  double seconds = 0.0;
};

// Fits shape, pose and placement of the model to one person (staged: orientation and translation, then the
// pose, then shape with the silhouette). Built once per model; fit() may be called repeatedly.
class BodyFitter {
 public:
  explicit BodyFitter(const BodyModel& model);
  ~BodyFitter();
  BodyFitter(const BodyFitter&) = delete;
  BodyFitter& operator=(const BodyFitter&) = delete;

  // Throws monobody::Error when there are too few usable keypoints (fewer than 6) or inputs disagree in size.
  BodyPose fit(const BodyFitInput& input, const BodyFitOptions& options = {}, BodyFitReport* report = nullptr) const;

  // The model point (posed) a keypoint name refers to, if any: joints and landmarks.
  bool has_point(std::string_view keypoint_name) const;
  // Posed positions of the keypoints of `set` (missing ones: NaN), from a poser that has posed the body.
  Eigen::Matrix3Xd keypoints(const BodyPoser& poser, JointSet set) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Fits the people of a video frame after frame, each person a track (their id): a fit starts from the same
// person's previous fit when that is at most `max_gap` frames old, with the temporal term (BodyFitInput::previous),
// and a person's shape settles to the median of their first `shape_frames` fits and is then held (one shape per
// person). Used by the pipeline's video and by `monobody fit` on a video's result. Different people may be fitted
// on different threads at once; one person's frames must come in order, and reset() must not overlap a fit.
inline constexpr int kBodyShapeSettleFits = 10;
class BodyTrackFitter {
 public:
  explicit BodyTrackFitter(const BodyFitter& fitter, int shape_frames = kBodyShapeSettleFits, int max_gap = 2);
  ~BodyTrackFitter();
  BodyTrackFitter(const BodyTrackFitter&) = delete;
  BodyTrackFitter& operator=(const BodyTrackFitter&) = delete;

  // Fits person `id` in frame `frame` (increasing per person); `input`'s initial, previous and shape are set
  // here from the track. Throws monobody::Error for a frame not after the person's last (or the same person
  // being fitted at once on another thread), and what BodyFitter::fit throws; the track is then left as it was.
  BodyPose fit(int id, int frame, BodyFitInput input, const BodyFitOptions& options = {},
               BodyFitReport* report = nullptr);
  // The person's settled shape, if it has settled.
  std::optional<Eigen::VectorXd> settled_shape(int id) const;
  // Forgets every track (a new video).
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Joint rotations (3J axis-angle; entries 0..2 hold the global orientation) reproducing the bone directions
// of a CMU clip in the expmap_li2018 layout ((T, 38, 3) joint positions, metres, y up), every `step`-th frame.
// Rotations are the smallest that align each bone (twist about a bone is inherited from its parent).
// Needs the cmu_mb joint names of monobody's model; throws monobody::Error otherwise or for a bad file.
std::vector<Eigen::VectorXd> retarget_cmu_clip(const BodyModel& model, const std::filesystem::path& clip, int step);

// The synthetic round trip: random adults (uniform semantic sliders through the semantic map, plus Gaussian
// noise on the coefficients), motion-capture poses
// turned up to +-60 degrees from the camera, random cameras; the silhouette is rendered and the keypoints
// (BlazePose 33 names the model has) projected with Gaussian noise; then fitted with the known camera.
struct BodyRoundTripOptions {
  int trials = 50;
  std::uint64_t seed = 7;
  double noise_px = 2.0;          // standard deviation per image coordinate
  double shape_noise = 0.3;       // added to each shape coefficient
  bool silhouette = true;
  // Optional 2D -> 3D lifter run on the noisy keypoints, whose joints the fit then agrees with (as in the
  // pipeline: image -> keypoints -> lifted joints -> body). Returns nullopt when it cannot lift.
  std::function<std::optional<Joints3D>(const Keypoints2D&, const PinholeCamera<double>&)> lift;
  // The rendered silhouette is exact to the pixel (sigma 0.5 px; the default 2 px is for a segmentation
  // network's mask: seed 11, no lifter, 2 -> 0.5 px: vertices 58.0 -> 52.8 mm, height 74 -> 54 mm), and these
  // people are drawn uniformly over the sliders, not from adults: no height prior.
  BodyFitOptions fit{.silhouette_sigma_px = 0.5, .height_prior_sigma_m = 0.0};
};
struct BodyRoundTripResult {
  std::vector<double> vertex_error_mm;  // mean vertex distance after aligning the centroids, per trial
  std::vector<double> joint_error_mm;   // mean joint distance after aligning the joint centroids
  std::vector<double> height_error_mm;  // |fitted height - true height|
  std::vector<double> scaled_vertex_error_mm;  // vertex error after aligning centroids and scale
  std::vector<double> depth_error_mm;   // |fitted - true| camera distance of the root joint
  std::vector<double> seconds;          // fit time
  std::vector<double> keypoint_rms_px;  // the fit's reprojection error (against the noisy keypoints)
  std::vector<double> silhouette_iou;   // of the fit's silhouette and the true one
};
BodyRoundTripResult body_round_trip(const BodyModel& model, const std::vector<Eigen::VectorXd>& poses,
                                    const BodyRoundTripOptions& options);

// Writes a posed mesh as Wavefront OBJ (atomically).
void write_obj(const std::filesystem::path& path, const Eigen::Matrix3Xd& vertices, const Eigen::Matrix3Xi& faces);

}  // namespace monobody
