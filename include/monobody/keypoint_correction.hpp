// A learned correction of one 2D detector's keypoints towards another joint set's definitions.
//
// A detector trained on one dataset (e.g. the Stacked-Hourglass network on MPII) places joints where that
// dataset's annotators did: MPII's hips sit wider and higher than Human3.6M's joint centres, its head top is
// not Human3.6M's head. The fixed interpolations of joint_mapping() cannot learn that, nor which joints the
// detector gets wrong most. This correction is learned by least squares on pairs of detections and true 2D
// (e.g. Human3.6M's training subjects: shipped detections against projected ground truth), from the whole
// detected pose to each target joint, in a frame normalised for position and size (the detections' centroid
// and RMS radius), made left-right symmetric by learning from every pair's mirror image too. The map is linear
// in the detected coordinates, or also in their pairwise products (quadratic), or a small residual network that
// learns what the fixed mapping misses (the default of `monobody train-correction`). Human3.6M's held-out S8,
// sparse lifter (alpha 0.6), P1 / P2: 96.3 / 64.5 mm through the fixed mapping, 91.2 / 63.3 linear, 86.5 / 61.1
// quadratic, 83.4 / 59.4 network. It also reports each target joint's residual spread. (Weighting the sparse lifter's residuals by
// it, as inverse variances, was measured and made things worse: held-out S8 P2 63.3 -> 65.8 mm; so the
// confidences stay the detector's.)
#pragma once

#include <Eigen/Core>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "monobody/keypoints.hpp"
#include "monobody/mlp.hpp"

namespace monobody {

struct KeypointCorrection {
  JointSet from = JointSet::Mpii16;
  JointSet to = JointSet::H36m17;
  bool quadratic = true;  // the map's input also has every product of two source coordinates
  // 2T x (2F + 1 [+ 2F (2F + 1) / 2]): normalised target (x0, y0, x1, ...) from the normalised source, a constant
  // 1 and (quadratic) the products s_a s_b for a <= b.
  Eigen::MatrixXd map;
  // T: each target joint's residual RMS distance on the training pairs, in units of the source's RMS radius.
  Eigen::VectorXd sigma;
  // When not empty, small residual networks (mlp.hpp) are used instead of `map` (train-correction --map network):
  // from the normalised source coordinates (2F inputs) to what the fixed joint_mapping() of them misses of the
  // normalised target (2T outputs). apply() averages each network's answer for the detections and, mirrored back,
  // for their mirror image (the networks learned from mirrored pairs too; S9, sparse lifter, alpha 0.1: P2 62.55
  // -> 62.30 mm with one network). Several networks are an ensemble (a JSON file listing them). Shared, so copies
  // are cheap.
  std::vector<std::shared_ptr<const MlpWeights>> networks;
  long samples = 0;       // training pairs (before mirroring)
  std::string trained_on; // free text: the data and command

  // The corrected keypoints (joint set `to`), each with the smallest source confidence (every corrected joint
  // is made from all detected ones). Needs every source joint: when one is missing (or the detections
  // collapse to a point) the fixed joint_mapping() is used instead, so a partly seen person still lifts.
  // Throws monobody::Error when the keypoints are not in the `from` joint set.
  Keypoints2D apply(const Keypoints2D& detected) const;
};

// Accumulates the least-squares problem's normal equations (only a block of pairs is kept, so millions fit in
// memory).
class KeypointCorrectionLearner {
 public:
  KeypointCorrectionLearner(JointSet from, JointSet to, bool quadratic = true);
  // A detection and the true 2D of the same person in the same image. Pairs with a missing joint on
  // either side are skipped (returns false).
  bool add(const Keypoints2D& detected, const Keypoints2D& truth);
  long samples() const { return samples_; }
  // Solves with a small ridge (relative to the mean feature power). Throws monobody::Error with too few
  // pairs (fewer than the map has inputs: 33 linear, 561 quadratic for MPII-16).
  KeypointCorrection solve(double ridge = 1e-6);

 private:
  void accumulate(const Eigen::Matrix2Xd& source, const Eigen::Matrix2Xd& target);
  void flush();  // the gathered block into the normal equations
  static constexpr int kBlock = 256;
  JointSet from_, to_;
  bool quadratic_;
  Eigen::MatrixXd xtx_, xty_, yty_;
  Eigen::VectorXd x_;                   // the features of the pair being added
  Eigen::MatrixXd block_x_, block_y_;   // features and targets of pairs not yet in the normal equations
  int block_size_ = 0;
  long samples_ = 0;
};

struct KeypointCorrectionNetworkOptions {
  int hidden = 256;
  int blocks = 2;
  // 20 epochs with dropout 0.1 against 10 without, chosen on Human3.6M's held-out S8 (sparse lifter, alpha 0.1):
  // P1 / P2 78.8 / 56.0 -> 78.2 / 55.6 mm.
  int epochs = 20;
  int batch = 256;
  float learning_rate = 1e-3f;
  float final_learning_rate = 1e-5f;  // exponential decay over the run
  float weight_decay = 1e-4f;
  float dropout = 0.1f;
  unsigned seed = 1;
};

// The network correction's training pairs (normalised and mirrored as for the least-squares map) and its
// training: mean squared error in the normalised frame, Adam.
class KeypointCorrectionNetworkLearner {
 public:
  KeypointCorrectionNetworkLearner(JointSet from, JointSet to);
  bool add(const Keypoints2D& detected, const Keypoints2D& truth);  // as KeypointCorrectionLearner::add
  long samples() const { return samples_; }
  // progress(done, total) after every batch; on_epoch(epoch, mean training loss per pair in normalised units).
  // Throws monobody::Error with fewer pairs than a batch.
  KeypointCorrection train(const KeypointCorrectionNetworkOptions& options,
                           const std::function<void(long, long)>& progress = {},
                           const std::function<void(int, double)>& on_epoch = {});

 private:
  JointSet from_, to_;
  // Column after column, per pair and its mirror image: the 2F normalised source values, and the 2T values of
  // the normalised target minus the fixed mapping of the source.
  std::vector<float> sources_, targets_;
  long samples_ = 0;
};

// JSON: {"format": "monobody-keypoint-correction", "version": 1, "from", "to", "features": "linear" | "quadratic",
// "map", "sigma", ...}.
// A network correction is an MLP file (mlp.hpp) whose metadata has "kind": "monobody keypoint correction",
// "from" and "to"; the reader tells the two apart by the file's first bytes. An ensemble of network corrections is
// JSON: {"format": "monobody-keypoint-correction-ensemble", "members": ["a.mlp", "b.mlp"]} (paths relative to the
// file; the members must share their joint sets; sigma is their mean). The writer writes one network as an MLP
// file, several as <stem>-1.mlp, <stem>-2.mlp, ... beside the listing (which must be .json), or a least-squares map.
// The reader checks sizes, joint sets and finiteness and throws monobody::Error with the file's name.
KeypointCorrection read_keypoint_correction(const std::filesystem::path& path);
void write_keypoint_correction(const std::filesystem::path& path, const KeypointCorrection& correction);

}  // namespace monobody
