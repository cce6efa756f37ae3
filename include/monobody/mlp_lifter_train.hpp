// Training the learned lifter (mlp_lifter.hpp) from motion capture only: 3D poses seen through the real
// Human3.6M cameras and through random virtual cameras, with 2D noise modelled on a real detector's errors.
#pragma once

#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "monobody/camera.hpp"
#include "monobody/mlp.hpp"

namespace monobody {

enum class LifterNoise {
  None,      // exact projections (for ground-truth 2D inputs)
  Detector,  // residuals of the Stacked-Hourglass detections on the training subjects, resampled
  Gaussian,  // independent per-joint noise of 5 % of the pose's 2D RMS radius (uses no Human3.6M data)
};

struct MlpLifterTrainOptions {
  std::filesystem::path h36m_dir;                 // shared data h36m/
  std::vector<std::string> h36m_subjects = {"S1", "S5", "S6", "S7", "S8"};  // may be empty (CMU only)
  std::filesystem::path cmu_dir;                  // shared data mocap/cmu; empty: no CMU poses
  int cmu_step = 4;                               // every cmu_step-th frame of the CMU clips
  std::vector<std::string> validation_subjects = {"S9"};
  LifterNoise noise = LifterNoise::Detector;
  double virtual_camera_fraction = 0.5;           // of the samples of poses that have real cameras
  // With detector noise: the fraction of real-camera views whose 2D input is that very frame's detection (its
  // own error, which depends on the pose) rather than another frame's resampled error.
  double paired_detection_fraction = 0.0;
  // "MoCap + ordinal": also feed each joint's relative depth, as a 2D network (BlazePose) estimates it. The
  // training depths are the true ones, scaled by a random factor in [1 - s, 1 + s] (s = depth_scale_noise) and
  // with Gaussian noise of depth_noise times the pose's 2D RMS radius per joint.
  bool with_depth = false;
  double depth_noise = 0.25;
  double depth_scale_noise = 0.4;
  // Also feed the pose's apparent size (mlp_lifter.hpp): worth it for one camera set-up (a benchmark model
  // trained without virtual cameras), not for a model meant for any camera.
  bool apparent_size = false;
  // Also feed ordinal depth relations (mlp_lifter.hpp): each sample gets a uniformly random number in [0,
  // relations] of random joint pairs with their true order, "=" within relation_tolerance_mm (an annotator's
  // statements). 0: a model without relation inputs. The validation poses get validation_relations each.
  int relations = 0;
  double relation_tolerance_mm = 100.0;
  int validation_relations = 10;
  int hidden = 1024;
  int blocks = 2;
  int epochs = 20;
  long samples_per_epoch = 0;                     // 0: as many as real-camera views of the training poses
  int batch = 256;
  float learning_rate = 1e-3f;
  float final_learning_rate = 1e-5f;              // exponential decay over the run
  float dropout = 0.1f;
  float weight_decay = 1e-4f;
  int threads = 2;
  unsigned seed = 1;
  double max_minutes = 0;                         // stop after the epoch that passes this (0: no limit)
  int validation_stride = 8;                      // frames of the validation subjects
};

struct MlpLifterEpoch {
  int epoch = 0;
  double train_loss = 0;      // normalised units
  double validation_p1_mm = 0;  // root-relative MPJPE on the validation subjects with the training noise's input
  double seconds = 0;
};

// Relative depths (pixels, as Keypoints2D::depth) that a 2D network might estimate for camera-frame joints
// `joints_mm` seen at pixels `px`: the true depths scaled by a random factor in [1 - scale_noise, 1 +
// scale_noise], plus Gaussian noise of `noise` times the 2D RMS radius per joint.
Eigen::VectorXd simulate_network_depth(const Eigen::Matrix3Xd& joints_mm, const PinholeCamera<double>& camera,
                                       const Eigen::Matrix2Xd& px, double noise, double scale_noise,
                                       std::mt19937& rng);

// Trains and returns the network (with metadata naming the data and options). progress(done, total) is called
// every batch; each finished epoch is reported through on_epoch with the weights so far (to checkpoint them).
// Throws monobody::Error for missing data.
MlpWeights train_mlp_lifter(const MlpLifterTrainOptions& options,
                            const std::function<void(long done, long total)>& progress = {},
                            const std::function<void(const MlpLifterEpoch&, const MlpWeights&)>& on_epoch = {});

}  // namespace monobody
