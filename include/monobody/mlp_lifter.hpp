// The learned lifter: a residual MLP trained only on motion capture maps 2D keypoints (Human3.6M-17) to
// root-relative 3D joints in the camera frame (Martinez et al., ICCV 2017; the "MoCap-trained network" of
// X. Zhou et al.'s line of work).
//
// Input features (kMlpLifterInputs): the 2D joints in normalised camera coordinates (undistorted, divided by
// the focal length), centred on the pelvis and divided by their RMS distance to it (34 numbers; the pelvis
// pair is always 0), then the pelvis' own normalised coordinates (2 numbers: where in the field of view the
// person stands, which decides the perspective). A model may also take each joint's relative depth from the
// 2D network ("MoCap + ordinal"): 17 more numbers, the depths in the same normalised units. A model may also
// take the pose's apparent size (one more number, last: the log of that RMS distance in normalised camera
// units, i.e. size over distance). A model may also take ordinal depth relations about the person (the last
// kMlpLifterRelationInputs numbers: for each of the 136 joint pairs, whether a relation is given and its sign),
// so that an annotator's "Z(left knee) > Z(right knee)" informs the whole pose, not only the two joints. With one
// camera set-up, as in a benchmark's studio, the apparent size and
// where the pelvis stands in the view tell the person's distance and so their metric size; a model for any
// camera gains little from it. Output: joints 1..16 minus the pelvis, millimetres.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "monobody/camera.hpp"
#include "monobody/keypoints.hpp"
#include "monobody/lift.hpp"
#include "monobody/mlp.hpp"
#include "monobody/ordinal.hpp"

namespace monobody {

inline constexpr int kMlpLifterInputs = 36;
inline constexpr int kMlpLifterInputsWithDepth = kMlpLifterInputs + 17;
inline constexpr int kMlpLifterOutputs = 48;
// Two numbers per unordered joint pair (a < b): 1 if a relation about the pair is given (else 0), and its sign
// (+1: Z(a) > Z(b), a is farther; -1: nearer; 0: "=" or none).
inline constexpr int kMlpLifterRelationInputs = 2 * 17 * 16 / 2;

// Which inputs a lifter network takes, beyond the 36 of every model.
struct MlpLifterInputs {
  bool depth = false;          // 17 relative depths from the 2D network
  bool apparent_size = false;  // log of the 2D RMS radius in normalised camera units
  bool relations = false;      // ordinal depth relations (kMlpLifterRelationInputs numbers)
  constexpr int count() const {
    return kMlpLifterInputs + (depth ? 17 : 0) + (apparent_size ? 1 : 0) + (relations ? kMlpLifterRelationInputs : 0);
  }
  // The layout of a network with `inputs` inputs; false if no layout has that many.
  static bool from_count(int inputs, MlpLifterInputs& layout);
};

// Features of H36M-17 pixel coordinates seen by `camera`, and with `depth` (17 relative depths in pixels, as
// Keypoints2D::depth) also the depth features, and with `apparent_size` the size feature after them, and with
// `relations` (H36M-17 joints; may be empty) the relation features last. Returns false (and leaves `features`
// undefined) when the points are degenerate (non-finite, or all at the pelvis).
bool mlp_lifter_features(const Eigen::Matrix2Xd& pixels, const PinholeCamera<double>& camera, float* features,
                         const Eigen::VectorXd* depth = nullptr, bool apparent_size = false,
                         const std::vector<OrdinalRelation>* relations = nullptr);

// The features of the mirror image: x -> 2 cx - x with left and right swapped (for flip averaging).
Eigen::Matrix2Xd mirror_h36m_pixels(const Eigen::Matrix2Xd& pixels, double cx);
// Swaps the left and right entries of 17 per-joint values.
Eigen::VectorXd mirror_h36m_depth(const Eigen::VectorXd& depth);
// Mirrors root-relative camera-frame joints (x -> -x, left and right swapped).
Eigen::Matrix3Xd mirror_h36m_joints(const Eigen::Matrix3Xd& joints);
// The same relations about the mirror image (left and right joints swapped; depths do not change).
std::vector<OrdinalRelation> mirror_h36m_relations(const std::vector<OrdinalRelation>& relations);

// A network sees one frame, so a video's frames are lifted one by one; for a video, smooth each person's
// keypoints over their frames first (smooth_keypoint_sequence) with this sigma, as `lift --temporal` and
// `eval h36m --video` do. A detector's error jitters from frame to frame, and the network turns a pixel of
// jitter into centimetres of depth. Human3.6M is 10 Hz here, so 0.1 s is 1 frame: with
// Stacked-Hourglass detections and mlp-h36m-sh-ensemble.json (all frames) P1 72.8 -> 70.8 mm on S9 (70.6 with
// the robust weights below); the sigma was chosen on S8 (47.6 mm unsmoothed; 0.07 s 45.7, 0.1 s 45.3, 0.15 s
// 45.3). Smoothing the lifted
// joints instead gained less on S9 (sigma 1 frame: 71.4). Exact 2D has no jitter to remove and only loses
// motion: ground truth, mlp-h36m-gt-ensemble.json, P1 41.7 -> 42.5.
inline constexpr double kMlpSequenceSigmaSeconds = 0.1;
// The smoothing's robust weights (smooth_keypoint_sequence's outlier_scale): a keypoint far from its window's
// median, as when a detector jumps for a frame, weighs little, so one bad frame does not spoil its neighbours'.
// Chosen on S8 like the sigma (P1 45.3 -> 45.2 mm at 0.4; 0.1: 45.5, 0.2: 45.3, 0.8: 45.1); S9 70.8 -> 70.6. Its
// purpose is the glitches of real video more than the benchmark: a stray keypoint 400 px off in one frame moved
// its neighbours by 97 px without it, 0.6 to 1.9 px with it (SmoothKeypointSequence.RobustWeightsKeepOneBadFrameToItself).
inline constexpr double kMlpSequenceOutlierScale = 0.4;

struct MlpLifterOptions {
  bool flip_average = true;  // also lift the mirror image and average (test-time augmentation)
};

// One network, or an ensemble of networks whose joints are averaged. An ensemble is a JSON file
//   {"format": "monobody-mlp-ensemble", "members": ["a.mlp", "b.mlp"], "flip_average": false}
// (paths relative to the file; "flip_average" is optional, default true, and false turns the mirror image off:
// two networks without it cost what one costs with it). Its members may read different inputs (say, one reads
// relations and one does not); they must agree on the 2D network's depths, which decide whether the lifter is
// "mlp" or "mlp+ordinal".
class MlpLifter final : public Lifter {
 public:
  // model: a .mlp network or an ensemble .json. Throws monobody::Error for a missing or corrupt file, one with
  // the wrong input/output sizes, or an ensemble whose members disagree on the depth input.
  explicit MlpLifter(const std::filesystem::path& model, MlpLifterOptions options = {});
  explicit MlpLifter(MlpWeights weights, MlpLifterOptions options = {});
  explicit MlpLifter(std::vector<MlpWeights> members, MlpLifterOptions options = {});

  std::string name() const override { return "mlp"; }
  // keypoints in any joint set that maps to H36M-17 (at least 13 of the 17 visible); camera: the image's
  // intrinsics (nullptr: unknown; the person is then taken to be at the centre of the view). Returns H36M-17
  // joints in metres, camera frame, pelvis at the origin. Throws monobody::Error for unusable keypoints.
  LiftOutput lift(const Keypoints2D& keypoints, const PinholeCamera<double>* camera) const override;
  // The same, for a model that reads ordinal relations (H36M-17 joints): the network sees them. A model that
  // does not read them ignores them (refine_with_relations() imposes relations on any lifter's output).
  bool reads_relations() const override { return reads_relations_; }
  LiftOutput lift_knowing(const Keypoints2D& keypoints, const PinholeCamera<double>* camera,
                          const std::vector<OrdinalRelation>& relations) const override;
  // Batched: pixels (H36M-17, one 2 x 17 block per pose; with depths for a model that uses them; with relations
  // per pose for a model that reads them, else none) -> joints (3 x 17 per pose, millimetres).
  void lift_batch(const std::vector<Eigen::Matrix2Xd>& pixels, const std::vector<Eigen::VectorXd>& depths,
                  const PinholeCamera<double>& camera, std::vector<Eigen::Matrix3Xd>& joints_mm,
                  const std::vector<std::vector<OrdinalRelation>>* relations = nullptr) const;
  bool flip_average() const { return options_.flip_average; }
  // Whether the model takes relative depths from the 2D network as input.
  bool uses_depth() const { return members_.front().inputs.depth; }
  // Whether the model (any member) takes the pose's apparent size (then it needs the real intrinsics).
  bool uses_apparent_size() const { return uses_apparent_size_; }

  // The first member's weights (the only one's, for a single network).
  const MlpWeights& weights() const { return members_.front().weights; }
  int member_count() const { return int(members_.size()); }
  const MlpWeights& member_weights(int i) const { return members_.at(std::size_t(i)).weights; }

 private:
  void add_members(std::vector<MlpWeights> members);

  struct Member {
    MlpWeights weights;
    MlpLifterInputs inputs;
    std::unique_ptr<Mlp> mlp;
  };
  std::vector<Member> members_;
  MlpLifterOptions options_;
  bool reads_relations_ = false, uses_apparent_size_ = false;
  mutable std::mutex mutex_;  // Mlp keeps work buffers
};

// The networks an ensemble file lists, or the one network of a .mlp file; `flip_average` (if given) receives the
// file's setting (true for a .mlp file).
std::vector<MlpWeights> load_mlp_lifter_members(const std::filesystem::path& model, bool* flip_average = nullptr);

// The default model shipped in models/lift/ (trained on CMU mocap only), resolved from the source tree.
std::filesystem::path default_mlp_lifter_path();

}  // namespace monobody
