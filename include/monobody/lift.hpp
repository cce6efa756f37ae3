// Lifting 2D keypoints to 3D joints.
//
// The sparse shape-space model (X. Zhou et al., "Sparseness Meets Deepness", CVPR 2016, and "Sparse
// Representation for 3D Shape Estimation: A Convex Relaxation Approach", TPAMI 2017): a pose S (3 x J, centred)
// is a sparse combination of basis poses learned from motion capture, S = sum_k c_k B_k, seen through a
// rotation R and a weak-perspective camera. Given 2D points W (2 x J) and per-joint weights w it solves
//
//     min_{c, R, t}  1/2 sum_j w_j || W_j - Pi R S_j - t ||^2 + alpha ||c||_1,   Pi = [I_2 0], R in SO(3)
//
// first by its convex relaxation (each basis gets its own 2x3 matrix M_k = c_k Pi R_k; ADMM with the
// proximal operator of the spectral norm), then by alternating rotation, coefficients and translation from
// there. The scale of the image is carried by c, so the shape comes out in image units; a metric scale is
// set afterwards from a known mean bone length.
#pragma once

#include <Eigen/Core>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "monobody/camera.hpp"
#include "monobody/keypoints.hpp"
#include "monobody/ordinal.hpp"

namespace monobody {

// ----------------------------------------------------------------------------------------------------------
// Pose dictionaries

// K basis poses over the joints of one joint set. Each basis is centred (zero mean over the joints).
// Frame: x right, y down (so an upright person has the head at negative y), as the camera frame.
struct PoseDictionary {
  JointSet joint_set = JointSet::H36m17;
  Eigen::MatrixXd bases;  // 3K x J: rows 3k, 3k+1, 3k+2 are the x, y, z of basis k
  Eigen::Matrix3Xd mean;  // 3 x J: mean of the training shapes (same units as the bases)
  nlohmann::json info = nlohmann::json::object();  // provenance: data, options, the regenerating command

  int size() const { return int(bases.rows() / 3); }
  int joint_count() const { return int(bases.cols()); }
  auto basis(int k) const { return bases.middleRows<3>(3 * k); }
};

// Reads `<stem>.json` with the arrays beside it, `<stem>.B.npy` (K, 3, J) and `<stem>.mu.npy` (3, J).
// The JSON may give "joint_set" (default h36m17) and "index_in_h36m17" (the file's joint i is joint
// index_in_h36m17[i]; MonoCap's dictionaries use it). Throws monobody::Error naming the problem.
PoseDictionary read_pose_dictionary(const std::filesystem::path& json_path);
// Writes the three files atomically (float32 arrays).
void write_pose_dictionary(const std::filesystem::path& json_path, const PoseDictionary& dictionary);
// models/lift/cmu-k128.json in the source tree (or $MONOBODY_SOURCE_DIR): the default, CMU-only dictionary.
std::filesystem::path default_pose_dictionary_path();

// ----------------------------------------------------------------------------------------------------------
// The solver

struct SparseLiftOptions {
  // Weight of ||c||_1. The 2D points are centred and scaled to unit RMS radius before solving, so alpha does
  // not depend on the image size.
  double alpha = 0.6;
  int max_admm_iterations = 500;
  double admm_tolerance = 1e-2;      // relative primal and dual residuals (tighter changes nothing measurable)
  int max_refine_iterations = 30;    // per start
  int refine_starts = 3;            // refine from the rotations of this many of the strongest bases
  double refine_tolerance = 1e-6;    // stop when the objective drops by less than this fraction
  bool refine = true;
};

struct SparsePose {
  Eigen::VectorXd coefficients;      // c, K
  Eigen::Matrix3d rotation = Eigen::Matrix3d::Identity();  // dictionary frame -> camera frame
  Eigen::Matrix3Xd shape;            // sum_k c_k B_k in the dictionary frame, input units
  Eigen::Matrix3Xd joints;           // rotation * shape: camera orientation, input units, centroid at 0
  Eigen::Vector2d translation = Eigen::Vector2d::Zero();  // image position of the shape's centroid
  int admm_iterations = 0;
  int refine_iterations = 0;
  // Objective values in normalised units (2D scaled to unit RMS radius): with c = 0, of the convex relaxation
  // at its solution, of the original problem at the (c, R) read from it, and at the end.
  double initial_objective = 0.0;
  double convex_objective = 0.0;
  double objective_after_convex = 0.0;
  double objective = 0.0;
  double reprojection_rms = 0.0;     // weighted RMS 2D residual, input units
};

// Video (the seed's CVPR'16 formulation, on the single-frame solutions): the frames of one person are solved
// jointly, adding (lambda_c / 2) sum_t ||c_t - c_t+1||^2 + (lambda_R / 2) sum_t ||log(R_t R_t+1^T)||^2 to the sum of
// the frames' objectives (each in its own normalised units), by block coordinate descent over the frames. Weak
// perspective's depth reflection is first made consistent along the sequence (the flip of each frame chosen by
// dynamic programming so consecutive 3D shapes agree).
struct SparseVideoOptions {
  // Chosen on Human3.6M S1 (150 frames of each sequence, SH detections, the CMU dictionary): the coefficients'
  // smoothness helps up to about 10 and then holds; the rotation's barely matters and hurts P1 beyond 1.
  double coefficient_smoothness = 10.0;  // lambda_c
  double rotation_smoothness = 0.1;      // lambda_R (radians^-2)
  int sweeps = 10;                      // passes of block coordinate descent over the frames
};

// EM with heatmaps (the seed's treatment of the 2D network's uncertainty): the pose is the sparse model's
// solution for keypoints that are each joint's expectation under its heatmap times a Gaussian around the
// pose's own projection (E-step), re-solved (M-step), with the Gaussian narrowing from `initial_sigma` to
// `final_sigma` (fractions of the 2D RMS radius). A joint whose heatmap has two modes (a left/right mix-up, an
// occluder) thus takes the one the shape model explains.
struct SparseEmOptions {
  int iterations = 5;
  double initial_sigma = 0.3;
  double final_sigma = 0.08;
};

// Solves the problem above for one pose. The solver keeps only precomputed data of the dictionary, so one
// instance may serve several threads. The dictionary must outlive the solver.
class SparsePoseSolver {
 public:
  explicit SparsePoseSolver(const PoseDictionary& dictionary, SparseLiftOptions options = {});

  // points: 2 x J (any units, e.g. pixels or normalised camera coordinates); weights: J, >= 0, where 0 or a
  // non-finite point marks a missing joint. Throws monobody::Error for fewer than 5 visible joints, points
  // that all coincide, or a result that is not finite.
  SparsePose solve(const Eigen::Matrix2Xd& points, const Eigen::VectorXd& weights) const;
  // The consecutive frames of one person together (SparseVideoOptions). A frame that cannot be solved on its own
  // (too few joints, degenerate) is empty in the result and splits the sequence there.
  // EM with heatmaps (SparseEmOptions), one heatmap per joint of the dictionary. Throws as solve() does.
  SparsePose solve_with_heatmaps(const std::vector<KeypointHeatmap>& heatmaps, const SparseEmOptions& em = {}) const;
  std::vector<std::optional<SparsePose>> solve_sequence(const std::vector<Eigen::Matrix2Xd>& points,
                                                        const std::vector<Eigen::VectorXd>& weights,
                                                        const SparseVideoOptions& video = {}) const;

  const SparseLiftOptions& options() const { return options_; }
  const PoseDictionary& dictionary() const { return *dictionary_; }

 private:
  SparsePose solve(const Eigen::Matrix2Xd& points, const Eigen::VectorXd& weights,
                   const PinholeCamera<double>* camera) const;

  const PoseDictionary* dictionary_;
  SparseLiftOptions options_;
  Eigen::MatrixXd basis_gram_;       // J x J: bases^T bases
};

// ----------------------------------------------------------------------------------------------------------
// Lifters: 2D keypoints (+ camera) -> root-relative 3D. Any lifter plugs into the evaluation.

struct LiftOutput {
  Joints3D joints;                   // H36M-17, metres, camera orientation, pelvis at the origin
  int iterations = 0;                // solver iterations (0 for a lifter that does not iterate)
  double reprojection_rms = 0.0;     // 2D residual of the fit in the input's units (0 if not applicable)
};

class Lifter {
 public:
  virtual ~Lifter() = default;
  virtual std::string name() const = 0;
  // keypoints in any joint set that maps to H36M-17; camera: the intrinsics of the image, if known.
  // Must be safe to call from several threads at once. Throws monobody::Error for unusable input.
  virtual LiftOutput lift(const Keypoints2D& keypoints, const PinholeCamera<double>* camera) const = 0;
  // The consecutive frames of one person's video. A lifter with a temporal model uses it; the others lift the
  // frames one by one. A frame that cannot be lifted is empty in the result.
  virtual std::vector<std::optional<LiftOutput>> lift_sequence(const std::vector<Keypoints2D>& frames,
                                                               const PinholeCamera<double>* camera) const;
  // Whether lift_knowing() reads ordinal depth relations (a network trained with them as input).
  virtual bool reads_relations() const { return false; }
  // Lifts knowing ordinal relations about the person (H36M-17 joints), for a lifter that reads them; the others
  // lift as lift() does. Either way refine_with_relations() then makes the result satisfy them.
  virtual LiftOutput lift_knowing(const Keypoints2D& keypoints, const PinholeCamera<double>* camera,
                                  const std::vector<OrdinalRelation>& relations) const;
};

// Which lifter turns 2D into 3D.
enum class LifterKind {
  Sparse,       // the sparse shape-space model (pose dictionary)
  Mlp,          // the learned network on 2D keypoints
  MlpOrdinal,   // the learned network that also takes the 2D network's relative depth per joint (MoCap + ordinal)
};
std::string_view to_string(LifterKind kind);
LifterKind parse_lifter_kind(std::string_view name);  // "sparse", "mlp", "mlp+ordinal"; throws monobody::Error

// A lifter of `kind` from `model` (a pose dictionary .json for sparse, a .mlp network otherwise); an empty
// path gives the kind's default model from models/lift/ (all learned from CMU motion capture only). Throws
// monobody::Error for a missing or corrupt model, or a network that does not match the kind. flip_average: whether
// the lifter also lifts the mirror image and averages (SparseLifterOptions, MlpLifterOptions; an ensemble file
// may turn it off for its networks regardless).
std::unique_ptr<Lifter> make_lifter(LifterKind kind, const std::filesystem::path& model = {}, bool flip_average = true);
// The default model file of a lifter kind.
std::filesystem::path default_lifter_model_path(LifterKind kind);

// Mean length of the 16 bones of H36M-17 over Human3.6M's training subjects (S1, S5-S8), metres
// (shared/data/h36m/README.md, "Facts measured"): the metric scale of a weak-perspective reconstruction.
inline constexpr double kH36mMeanBoneLength = 0.2591;

double mean_bone_length(const Eigen::Matrix3Xd& joints, JointSet set);

struct SparseLifterOptions {
  SparseLiftOptions solver;
  double mean_bone_length = kH36mMeanBoneLength;  // metres; sets the scale of the output
  bool temporal = false;                          // lift_sequence() solves the frames jointly
  SparseVideoOptions video;
  // With a known camera: refine the weak-perspective solution under full perspective (rotation, translation
  // and the coefficients of the bases in use, which stay near their weak-perspective values with this weight
  // per unit of coefficient; normalised camera coordinates), so near parts of the body may project larger.
  // Measured on Human3.6M S1 (SH detections, CMU dictionary, every 10th frame): P1 161.1 -> 147.4 mm, P2 97.5
  // either way; the pull's weight matters little from 10 up (0.1: 155.5).
  bool perspective = true;
  double perspective_coefficient_prior = 10.0;
  // lift(): also lift the mirror image (left and right swapped) and average the two poses, mirrored back. The
  // dictionary is not mirror-symmetric and the refinement finds a different optimum for each, so their errors
  // partly cancel; it costs a second solve. Measured on Human3.6M with ground-truth 2D (h36m-k128-gt, alpha 0.1,
  // all frames): S9 P2 49.4 -> 47.5 mm, P1 66.2 -> 65.1; held-out S8 with a dictionary learned without it
  // (every 10th frame) 49.2 -> 48.0. Video (lift_sequence) averages the mirrored run, solved jointly, frame by
  // frame; EM over heatmaps solves the image itself only. Off for a dictionary without mirror symmetry (random
  // bases, say): the mirror image of its poses is then no combination of its bases.
  bool flip_average = true;
};

// The sparse shape-space lifter. With a camera, keypoints are first undistorted and normalised
// (x/z, y/z), which removes the lens distortion and the principal point from the weak-perspective fit.
class SparseLifter final : public Lifter {
 public:
  explicit SparseLifter(PoseDictionary dictionary, SparseLifterOptions options = {});
  std::string name() const override { return "sparse"; }
  LiftOutput lift(const Keypoints2D& keypoints, const PinholeCamera<double>* camera) const override;
  // As lift(), also returning the solver's state (of the image itself; with flip_average the joints are the
  // average with the mirror image's).
  LiftOutput lift(const Keypoints2D& keypoints, const PinholeCamera<double>* camera, SparsePose& pose) const;
  std::vector<std::optional<LiftOutput>> lift_sequence(const std::vector<Keypoints2D>& frames,
                                                       const PinholeCamera<double>* camera) const override;

  // EM with the 2D network's heatmaps (SparseEmOptions): `heatmaps` per joint of the keypoints' joint set, in
  // pixels (LandmarkHeatmaps::samples); an H36M joint the set has no single counterpart of (the pelvis, spine,
  // thorax, head) is held at its mapped keypoint.
  LiftOutput lift_with_heatmaps(const Keypoints2D& keypoints, const std::vector<KeypointHeatmap>& heatmaps,
                                const PinholeCamera<double>* camera, const SparseEmOptions& em = {}) const;

  const PoseDictionary& dictionary() const { return *dictionary_; }

 private:
  SparsePose solve(const Eigen::Matrix2Xd& points, const Eigen::VectorXd& weights,
                   const PinholeCamera<double>* camera) const;

  std::unique_ptr<PoseDictionary> dictionary_;  // heap-held so the solver's pointer survives moves
  SparseLifterOptions options_;
  SparsePoseSolver solver_;
};

}  // namespace monobody

namespace monobody {

// ----------------------------------------------------------------------------------------------------------
// Learning dictionaries from motion capture

// H36M-17 training poses from the shared data (units and frames as stored; normalise them before learning).
// Human3.6M: `h36m_dir`/<subject>/*.pos3d_world.npy, every `step`-th frame.
std::vector<Eigen::Matrix3Xd> load_h36m_poses(const std::filesystem::path& h36m_dir,
                                              const std::vector<std::string>& subjects, int step);
// CMU mocap: the forward-kinematics joint positions of mocap/cmu/deepmimic and mocap/cmu/expmap_li2018, mapped
// to H36M-17, every `step`-th frame.
std::vector<Eigen::Matrix3Xd> load_cmu_poses(const std::filesystem::path& cmu_dir, int step);

// Centred on the joints' mean, scaled to unit mean bone length, and turned to a canonical orientation: the
// pelvis-to-thorax direction up (-y), the right-to-left hip direction (made perpendicular) along +x, so the
// person faces -z (toward a camera). Throws monobody::Error for a degenerate pose.
Eigen::Matrix3Xd normalize_training_pose(const Eigen::Matrix3Xd& pose);

struct DictionaryLearningOptions {
  int bases = 128;
  double lambda = 0.1;      // l1 weight of the sparse codes, for unit-norm atoms and normalised poses
  int iterations = 25;      // alternations of sparse coding and dictionary update
  int coding_iterations = 30;  // FISTA iterations per sparse coding (warm-started)
  int max_samples = 12000;  // poses used (a random subset when there are more)
  unsigned seed = 1;
};

struct DictionaryLearningReport {
  double relative_error = 0.0;    // ||X - D C||_F / ||X||_F on the training poses
  double mean_active = 0.0;       // mean number of non-zero codes per pose
  int samples = 0;
};

// min_{D, C} 1/2 ||X - D C||_F^2 + lambda ||C||_1 with ||d_k|| <= 1, by alternating FISTA sparse coding and
// block-coordinate dictionary updates (Mairal et al., JMLR 2010). The poses must be normalised. The stored
// bases are scaled to the Frobenius norm of the mean pose, so that a lifter's alpha transfers between
// dictionaries. progress(iteration, relative error) is called after each alternation.
PoseDictionary learn_pose_dictionary(const std::vector<Eigen::Matrix3Xd>& poses,
                                     const DictionaryLearningOptions& options, DictionaryLearningReport* report = nullptr,
                                     const std::function<void(int, double)>& progress = {});

}  // namespace monobody
