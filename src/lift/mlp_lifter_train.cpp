#include "monobody/mlp_lifter_train.hpp"

#include <Eigen/Geometry>
#include <chrono>
#include <cmath>
#include <random>

#include "monobody/error.hpp"
#include "monobody/h36m_data.hpp"
#include "monobody/keypoints.hpp"
#include "monobody/lift.hpp"
#include "monobody/mlp_lifter.hpp"
#include "monobody/mlp_train.hpp"

namespace monobody {
namespace {

using Pose = Eigen::Matrix<double, 3, 17>;

// Training poses: world millimetres, z up, with the real cameras of their subject (if any).
struct PoseBank {
  std::vector<Pose> poses;
  std::vector<int> camera_set;                         // per pose: index into cameras, or -1
  std::vector<std::array<int, kH36mCameraCount>> own_residual;  // per pose and camera: into the residuals, or -1
  std::vector<std::array<H36mCamera, kH36mCameraCount>> cameras;
};

// Relative 2D detector errors: (detection - projected truth) / RMS radius of the truth about the pelvis.
using Residual = Eigen::Matrix<double, 2, 17>;

Eigen::Matrix2Xd project(const Pose& cam_points, const PinholeCamera<double>& cam) {
  Eigen::Matrix2Xd px(2, 17);
  for (int j = 0; j < 17; ++j) px.col(j) = cam.project(cam_points.col(j));
  return px;
}

double rms_radius(const Eigen::Matrix2Xd& px) { return std::sqrt((px.colwise() - px.col(0)).squaredNorm() / 16.0); }

Keypoints2D sh_as_h36m(const NpyArray<float>& det, int f) { return map_joints(h36m_detection(det, f), JointSet::H36m17); }

// A random camera looking at the person from around them: OpenCV frame (x right, y down, z forward).
struct VirtualCamera {
  PinholeCamera<double> intrinsics;
  CameraPose<double> pose;
};

VirtualCamera random_camera(const Pose& world, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double yaw = 2 * M_PI * u(rng);
  const double elevation = (-5.0 + 40.0 * u(rng)) * M_PI / 180.0;
  const double distance = 3000.0 + 4000.0 * u(rng);
  const Eigen::Vector3d pelvis = world.col(0);
  const Eigen::Vector3d aim = pelvis + Eigen::Vector3d(800 * (u(rng) - 0.5), 800 * (u(rng) - 0.5), 600 * (u(rng) - 0.5));
  const Eigen::Vector3d centre =
      pelvis + distance * Eigen::Vector3d(std::cos(elevation) * std::cos(yaw), std::cos(elevation) * std::sin(yaw),
                                          std::sin(elevation));
  const Eigen::Vector3d forward = (aim - centre).normalized();
  const Eigen::Vector3d right = forward.cross(Eigen::Vector3d::UnitZ()).normalized();
  const Eigen::Vector3d down = forward.cross(right);
  Eigen::Matrix3d R;
  R.row(0) = right;
  R.row(1) = down;
  R.row(2) = forward;
  const double roll = (u(rng) - 0.5) * 10.0 * M_PI / 180.0;
  R = Eigen::AngleAxisd(roll, Eigen::Vector3d::UnitZ()).toRotationMatrix() * R;
  VirtualCamera c;
  c.pose.R = R;
  c.pose.t = -R * centre;
  c.intrinsics.fx = c.intrinsics.fy = 700.0 + 900.0 * u(rng);
  c.intrinsics.cx = 500.0 + 40.0 * (u(rng) - 0.5);
  c.intrinsics.cy = 500.0 + 40.0 * (u(rng) - 0.5);
  return c;
}

// Mirror image of a world pose (reflect across the vertical plane x = pelvis x, swap left and right).
Pose mirror_world(const Pose& p) {
  const auto& mirror = skeleton(JointSet::H36m17).mirror;
  Pose out;
  for (int j = 0; j < 17; ++j) out.col(mirror[j]) << 2 * p(0, 0) - p(0, j), p(1, j), p(2, j);
  return out;
}

class SampleMaker {
 public:
  SampleMaker(const PoseBank& bank, const std::vector<Residual>& residuals, const MlpLifterTrainOptions& o)
      : bank_(bank), residuals_(residuals), options_(o) {}

  // One sample into (x, y) columns; false if the view is unusable (behind the camera, degenerate).
  bool make(std::mt19937& rng, float* x, float* y) const {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const std::size_t i = std::size_t(rng() % bank_.poses.size());
    Pose world = bank_.poses[i];
    if (u(rng) < 0.5) world = mirror_world(world);
    PinholeCamera<double> intrinsics;
    CameraPose<double> pose;
    const int set = bank_.camera_set[i];
    int own = -1;
    if (set >= 0 && u(rng) >= options_.virtual_camera_fraction) {
      const std::size_t camera = rng() % kH36mCameraCount;
      const H36mCamera& c = bank_.cameras[std::size_t(set)][camera];
      intrinsics = c.intrinsics;
      pose = c.pose;
      own = bank_.own_residual[i][camera];
      if (own >= 0 && u(rng) < options_.paired_detection_fraction) world = bank_.poses[i];  // its own, unmirrored
      else own = -1;
    } else {
      const VirtualCamera c = random_camera(world, rng);
      intrinsics = c.intrinsics;
      pose = c.pose;
    }
    Pose cam;
    for (int j = 0; j < 17; ++j) cam.col(j) = pose.to_camera(world.col(j));
    if ((cam.row(2).array() < 500.0).any()) return false;
    Eigen::Matrix2Xd px = project(cam, intrinsics);
    if (own >= 0)
      px += residuals_[std::size_t(own)] * rms_radius(px);  // == that frame's detection
    else if (options_.noise == LifterNoise::Detector && !residuals_.empty() && u(rng) < 0.9)
      px += residuals_[rng() % residuals_.size()] * rms_radius(px);
    if (options_.noise == LifterNoise::Gaussian) {
      std::normal_distribution<double> normal(0.0, 0.05 * rms_radius(px));
      for (int j = 0; j < 17; ++j) px.col(j) += Eigen::Vector2d(normal(rng), normal(rng));
    }
    Eigen::VectorXd depth;
    if (options_.with_depth) depth = simulate_network_depth(cam, intrinsics, px, options_.depth_noise, options_.depth_scale_noise, rng);
    std::vector<OrdinalRelation> relations;
    if (options_.relations > 0)
      relations = simulate_relations(cam, int(rng() % unsigned(options_.relations + 1)), options_.relation_tolerance_mm, rng);
    if (!mlp_lifter_features(px, intrinsics, x, options_.with_depth ? &depth : nullptr, options_.apparent_size,
                             options_.relations > 0 ? &relations : nullptr))
      return false;
    for (int j = 1; j < 17; ++j)
      for (int d = 0; d < 3; ++d) y[3 * (j - 1) + d] = float(cam(d, j) - cam(d, 0));
    return true;
  }

 private:
  const PoseBank& bank_;
  const std::vector<Residual>& residuals_;
  const MlpLifterTrainOptions& options_;
};

// Validation set: every stride-th frame of every camera, with the input the model is trained for.
struct Validation {
  Eigen::MatrixXf x, x_mirror;
  std::vector<Pose> truth;  // camera frame, mm
};

}  // namespace

Eigen::VectorXd simulate_network_depth(const Eigen::Matrix3Xd& cam, const PinholeCamera<double>& intrinsics,
                                       const Eigen::Matrix2Xd& px, double noise, double scale_noise,
                                       std::mt19937& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::normal_distribution<double> normal(0.0, noise * rms_radius(px));
  const double scale = 1.0 + scale_noise * u(rng);
  Eigen::VectorXd depth(cam.cols());
  for (int j = 0; j < cam.cols(); ++j)
    depth[j] = scale * (cam(2, j) - cam(2, 0)) * intrinsics.fx / cam(2, 0) + (j ? normal(rng) : 0.0);
  return depth;
}

MlpWeights train_mlp_lifter(const MlpLifterTrainOptions& o, const std::function<void(long, long)>& progress,
                            const std::function<void(const MlpLifterEpoch&, const MlpWeights&)>& on_epoch) {
  if (o.batch <= 0 || o.epochs <= 0 || o.hidden <= 0) throw Error("train-lifter: invalid batch, epochs or width");
  if (!(o.learning_rate > 0) || !(o.final_learning_rate > 0))
    throw Error("train-lifter: learning rates must be positive");
  set_blas_threads(o.threads);

  // Poses and the detector's residuals from the training subjects.
  PoseBank bank;
  std::vector<Residual> residuals;
  for (const H36mSequence& s : o.h36m_subjects.empty() ? std::vector<H36mSequence>{}
                                                       : load_h36m(o.h36m_dir, o.h36m_subjects)) {
    bank.cameras.push_back(s.cameras);
    const int set = int(bank.cameras.size()) - 1;
    const std::size_t first = bank.poses.size();
    for (int f = 0; f < s.frame_count(); ++f) {
      bank.poses.push_back(Pose(s.world_joints(f)));
      bank.camera_set.push_back(set);
      bank.own_residual.push_back({-1, -1, -1, -1});
    }
    if (o.noise != LifterNoise::Detector || s.gt_offset_suspect) continue;
    const int residual_step = o.paired_detection_fraction > 0 ? 1 : 2;
    for (int c = 0; c < kH36mCameraCount; ++c) {
      const NpyArray<float> det = s.detections(c);
      for (int f = 0; f < s.frame_count(); f += residual_step) {
        bank.own_residual[first + std::size_t(f)][std::size_t(c)] = int(residuals.size());
        const Eigen::Matrix2Xd truth = s.projected_joints(f, c);
        residuals.push_back((sh_as_h36m(det, f).xy - truth) / rms_radius(truth));
      }
    }
  }
  if (!o.cmu_dir.empty()) {
    // CMU clips: metres, y up -> Human3.6M's world frame (millimetres, z up); seen by virtual cameras only.
    for (const Eigen::Matrix3Xd& p : load_cmu_poses(o.cmu_dir, o.cmu_step)) {
      Pose w;
      for (int j = 0; j < 17; ++j) w.col(j) << 1000.0 * p(0, j), -1000.0 * p(2, j), 1000.0 * p(1, j);
      bank.poses.push_back(w);
      bank.camera_set.push_back(-1);
      bank.own_residual.push_back({-1, -1, -1, -1});
    }
  }
  if (bank.poses.empty()) throw Error("train-lifter: no training poses");

  const bool with_relations = o.relations > 0;
  const int inputs = MlpLifterInputs{o.with_depth, o.apparent_size, with_relations}.count();
  // Validation inputs, fixed for the whole run.
  Validation val;
  {
    constexpr int kMaxInputs = MlpLifterInputs{true, true, true}.count();
    std::vector<std::array<float, kMaxInputs>> xs, xm;
    std::mt19937 validation_rng(12345);  // the same noisy depths in every epoch and run
    for (const H36mSequence& s : load_h36m(o.h36m_dir, o.validation_subjects)) {
      for (int c = 0; c < kH36mCameraCount; ++c) {
        const H36mCamera& cam = s.cameras[std::size_t(c)];
        const NpyArray<float> det = o.noise == LifterNoise::Detector ? s.detections(c) : NpyArray<float>{};
        for (int f = 0; f < s.frame_count(); f += std::max(1, o.validation_stride)) {
          const Pose p = s.camera_joints(f, c);
          const Eigen::Matrix2Xd px =
              o.noise == LifterNoise::Detector ? Eigen::Matrix2Xd(sh_as_h36m(det, f).xy) : project(p, cam.intrinsics);
          std::array<float, kMaxInputs> a{}, b{};
          Eigen::VectorXd depth, mirrored;
          if (o.with_depth) {
            depth = simulate_network_depth(p, cam.intrinsics, px, o.depth_noise, o.depth_scale_noise, validation_rng);
            mirrored = mirror_h36m_depth(depth);
          }
          std::vector<OrdinalRelation> relations, mirrored_relations;
          if (with_relations) {
            relations = simulate_relations(p, o.validation_relations, o.relation_tolerance_mm, validation_rng);
            mirrored_relations = mirror_h36m_relations(relations);
          }
          if (!mlp_lifter_features(px, cam.intrinsics, a.data(), o.with_depth ? &depth : nullptr, o.apparent_size,
                                   with_relations ? &relations : nullptr))
            continue;
          mlp_lifter_features(mirror_h36m_pixels(px, cam.intrinsics.cx), cam.intrinsics, b.data(),
                              o.with_depth ? &mirrored : nullptr, o.apparent_size,
                              with_relations ? &mirrored_relations : nullptr);
          xs.push_back(a);
          xm.push_back(b);
          val.truth.push_back(p);
        }
      }
    }
    val.x.resize(inputs, Eigen::Index(xs.size()));
    val.x_mirror.resize(inputs, Eigen::Index(xs.size()));
    for (std::size_t i = 0; i < xs.size(); ++i) {
      val.x.col(Eigen::Index(i)) = Eigen::Map<const Eigen::VectorXf>(xs[i].data(), inputs);
      val.x_mirror.col(Eigen::Index(i)) = Eigen::Map<const Eigen::VectorXf>(xm[i].data(), inputs);
    }
  }

  const SampleMaker maker(bank, residuals, o);
  std::mt19937 rng(o.seed);
  auto fill = [&](Eigen::MatrixXf& x, Eigen::MatrixXf& y) {
    for (Eigen::Index i = 0; i < x.cols(); ++i)
      while (!maker.make(rng, x.col(i).data(), y.col(i).data())) {
      }
  };

  // Normalisation from a large sample of the training distribution.
  MlpWeights weights = MlpWeights::initialise({inputs, kMlpLifterOutputs, o.hidden, o.blocks}, o.seed);
  {
    Eigen::MatrixXf x(inputs, 50000), y(kMlpLifterOutputs, 50000);
    fill(x, y);
    weights.fit_normalisation(x, y);
  }

  weights.metadata = {{"kind", "monobody lifter"},
                      {"h36m_subjects", o.h36m_subjects},
                      {"cmu", !o.cmu_dir.empty()},
                      {"noise", o.noise == LifterNoise::Detector   ? "detector"
                                : o.noise == LifterNoise::Gaussian ? "gaussian"
                                                                   : "none"},
                      {"with_depth", o.with_depth},
                      {"apparent_size", o.apparent_size},
                      {"relations", o.relations},
                      {"relation_tolerance_mm", o.relation_tolerance_mm},
                      {"virtual_camera_fraction", o.virtual_camera_fraction},
                      {"paired_detection_fraction", o.paired_detection_fraction},
                      {"epochs", o.epochs},
                      {"seed", o.seed}};
  MlpTrainer trainer(weights, {.learning_rate = o.learning_rate, .weight_decay = o.weight_decay,
                               .dropout = o.dropout, .seed = o.seed});
  const long per_epoch = o.samples_per_epoch > 0 ? o.samples_per_epoch : long(bank.poses.size()) * kH36mCameraCount;
  const long batches = std::max(1L, per_epoch / o.batch);
  const long total = batches * o.epochs;
  const double decay = std::pow(double(o.final_learning_rate) / o.learning_rate, 1.0 / double(std::max(1L, total)));
  // Root-relative MPJPE (mm) on the validation set, with flip averaging as at run time.
  auto validate = [&](const MlpWeights& w) {
    if (val.truth.empty()) return 0.0;
    Mlp mlp(w);
    Eigen::MatrixXf y1(kMlpLifterOutputs, val.x.cols()), y2(kMlpLifterOutputs, val.x.cols());
    mlp.forward(val.x, y1);
    mlp.forward(val.x_mirror, y2);
    double sum = 0;
    for (Eigen::Index i = 0; i < val.x.cols(); ++i) {
      Eigen::Matrix3Xd a = Eigen::Matrix3Xd::Zero(3, 17), m = Eigen::Matrix3Xd::Zero(3, 17);
      for (int j = 1; j < 17; ++j) {
        a.col(j) = y1.col(i).segment<3>(3 * (j - 1)).cast<double>();
        m.col(j) = y2.col(i).segment<3>(3 * (j - 1)).cast<double>();
      }
      const Eigen::Matrix3Xd est = 0.5 * (a + mirror_h36m_joints(m));
      const Pose& t = val.truth[std::size_t(i)];
      sum += (est - (t.colwise() - t.col(0))).colwise().norm().mean();
    }
    return sum / double(val.x.cols());
  };
  // Epoch 0: the untrained network predicts the mean pose, the baseline every epoch must beat.
  if (on_epoch) on_epoch({0, 0.0, validate(trainer.weights()), 0.0}, trainer.weights());

  Eigen::MatrixXf x(inputs, o.batch), y(kMlpLifterOutputs, o.batch);
  const auto start = std::chrono::steady_clock::now();
  long done = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    double loss = 0;
    for (long b = 0; b < batches; ++b, ++done) {
      fill(x, y);
      x = (x.colwise() - weights.in_mean).array().colwise() / weights.in_std.array();
      y = (y.colwise() - weights.out_mean).array().colwise() / weights.out_std.array();
      loss += trainer.step(x, y);
      trainer.set_learning_rate(float(o.learning_rate * std::pow(decay, double(done))));
      if (progress) progress(done + 1, total);
    }
    MlpLifterEpoch report;
    report.epoch = epoch;
    report.train_loss = loss / double(batches);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.validation_p1_mm = validate(trainer.weights());
    if (on_epoch) on_epoch(report, trainer.weights());
    if (o.max_minutes > 0 && report.seconds > 60.0 * o.max_minutes) break;
  }

  return trainer.weights();
}

}  // namespace monobody
