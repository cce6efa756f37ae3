#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cmath>
#include <random>

#include "monobody/error.hpp"
#include "monobody/lift.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

// A known dictionary: K random centred bases over the H36M-17 joints, each of unit Frobenius norm.
PoseDictionary random_dictionary(int K, std::mt19937& rng) {
  std::normal_distribution<double> normal;
  PoseDictionary d;
  d.bases.resize(3 * K, 17);
  for (int i = 0; i < d.bases.size(); ++i) d.bases.data()[i] = normal(rng);
  for (int k = 0; k < K; ++k) {
    auto b = d.bases.middleRows<3>(3 * k);
    b.colwise() -= b.rowwise().mean().eval();
    b /= b.norm();
  }
  d.mean = Eigen::Matrix3Xd::Zero(3, 17);
  return d;
}

Eigen::Matrix3d random_rotation(std::mt19937& rng) {
  std::normal_distribution<double> normal;
  Eigen::Quaterniond q(normal(rng), normal(rng), normal(rng), normal(rng));
  return q.normalized().toRotationMatrix();
}

struct Sample {
  Eigen::Matrix3Xd joints;  // camera orientation, mm, centroid at 0
  Eigen::Matrix2Xd points;  // pixels
};

// A pose with `active` random coefficients, rotated, scaled to a mean bone length of 259 mm, and seen by a
// weak-perspective camera at 0.2 px/mm.
Sample random_sample(const PoseDictionary& d, int active, std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(0, d.size() - 1);
  std::uniform_real_distribution<double> magnitude(0.5, 1.5);
  Eigen::Matrix3Xd shape = Eigen::Matrix3Xd::Zero(3, 17);
  for (int i = 0; i < active; ++i) shape += magnitude(rng) * d.basis(pick(rng));
  Sample s;
  s.joints = random_rotation(rng) * shape;
  s.joints *= 259.0 / mean_bone_length(s.joints, JointSet::H36m17);
  s.points = 0.2 * s.joints.topRows<2>();
  s.points.colwise() += Eigen::Vector2d(480, 320);
  return s;
}

// Mean per-joint distance after removing the centroids and bringing the estimate to the truth's scale
// (weak perspective fixes the shape up to scale).
double shape_error_mm(const Eigen::Matrix3Xd& estimate, const Eigen::Matrix3Xd& truth) {
  Eigen::Matrix3Xd e = estimate.colwise() - estimate.rowwise().mean();
  Eigen::Matrix3Xd t = truth.colwise() - truth.rowwise().mean();
  e *= mean_bone_length(t, JointSet::H36m17) / mean_bone_length(e, JointSet::H36m17);
  return (e - t).colwise().norm().mean();
}

TEST(SparsePoseSolver, RecoversNoiselessPosesOfAKnownDictionary) {
  std::mt19937 rng(7);
  const PoseDictionary d = random_dictionary(64, rng);
  SparseLiftOptions options;
  options.alpha = 1e-3;  // noiseless: only a touch of shrinkage, so the recovered shape is unbiased
  options.admm_tolerance = 1e-4;  // and a converged relaxation, for exact recovery
  const SparsePoseSolver solver(d, options);
  double worst = 0.0;
  for (int trial = 0; trial < 20; ++trial) {
    const Sample s = random_sample(d, 3, rng);
    const SparsePose pose = solver.solve(s.points, Eigen::VectorXd::Ones(17));
    worst = std::max(worst, shape_error_mm(pose.joints, s.joints));
    // The reprojection is exact too (pixels).
    EXPECT_LT(pose.reprojection_rms, 0.05);
  }
  EXPECT_LT(worst, 1.0);
}

TEST(SparsePoseSolver, ConvexStepAndRefinementEachLowerTheObjective) {
  std::mt19937 rng(11);
  const PoseDictionary d = random_dictionary(64, rng);
  SparseLiftOptions options;
  options.alpha = 0.05;
  const SparsePoseSolver solver(d, options);
  std::normal_distribution<double> noise(0.0, 2.0);
  for (int trial = 0; trial < 10; ++trial) {
    Sample s = random_sample(d, 4, rng);
    for (int i = 0; i < s.points.size(); ++i) s.points.data()[i] += noise(rng);
    const SparsePose pose = solver.solve(s.points, Eigen::VectorXd::Ones(17));
    EXPECT_LT(pose.convex_objective, 0.5 * pose.initial_objective);
    // The relaxation is a lower bound of the original problem at its own solution.
    EXPECT_LE(pose.convex_objective, pose.objective_after_convex + 1e-9);
    EXPECT_LE(pose.objective, pose.objective_after_convex + 1e-12);
    EXPECT_GE(pose.refine_iterations, 1);
    EXPECT_LT(pose.admm_iterations, options.max_admm_iterations);  // converged, not stopped
  }
}

TEST(SparsePoseSolver, DegradesGracefullyWithNoise) {
  std::mt19937 rng(5);
  const PoseDictionary d = random_dictionary(64, rng);
  SparseLiftOptions options;
  options.alpha = 1e-3;
  options.admm_tolerance = 1e-4;
  const SparsePoseSolver solver(d, options);
  // Noise in pixels for a pose about 100 px across (bones ~ 52 px).
  const double sigmas[] = {0.0, 0.5, 2.0};
  double error[3] = {0, 0, 0};
  const int trials = 20;
  for (int trial = 0; trial < trials; ++trial) {
    const Sample s = random_sample(d, 3, rng);
    for (int n = 0; n < 3; ++n) {
      std::normal_distribution<double> noise(0.0, sigmas[n]);
      Eigen::Matrix2Xd points = s.points;
      if (sigmas[n] > 0)
        for (int i = 0; i < points.size(); ++i) points.data()[i] += noise(rng);
      error[n] += shape_error_mm(solver.solve(points, Eigen::VectorXd::Ones(17)).joints, s.joints) / trials;
    }
  }
  EXPECT_LT(error[0], 1.0);
  // 0.5 px is 2.5 mm in the image plane; the depth it induces is amplified but bounded.
  EXPECT_LT(error[1], 25.0);
  EXPECT_LT(error[2], 60.0);
  EXPECT_LT(error[1], error[2]);
}

TEST(SparsePoseSolver, HandlesWeightsAndMissingJoints) {
  std::mt19937 rng(3);
  const PoseDictionary d = random_dictionary(64, rng);
  SparseLiftOptions options;
  options.alpha = 1e-3;
  options.admm_tolerance = 1e-4;
  const SparsePoseSolver solver(d, options);
  const Sample s = random_sample(d, 3, rng);
  // Wrist and ankle missing (one by NaN, one by zero weight); the rest with uneven confidences.
  Eigen::Matrix2Xd points = s.points;
  points.col(13).setConstant(std::nan(""));
  Eigen::VectorXd weights = Eigen::VectorXd::LinSpaced(17, 0.3, 1.0);
  weights[3] = 0.0;
  const SparsePose pose = solver.solve(points, weights);
  ASSERT_TRUE(pose.joints.allFinite());
  // The shape model fills in the two unseen joints.
  EXPECT_LT(shape_error_mm(pose.joints, s.joints), 1.0);
}

TEST(SparsePoseSolver, RejectsDegenerateInputWithClearErrors) {
  std::mt19937 rng(1);
  const PoseDictionary d = random_dictionary(16, rng);
  const SparsePoseSolver solver(d);
  const Sample s = random_sample(d, 2, rng);
  Eigen::VectorXd weights = Eigen::VectorXd::Zero(17);
  weights.head(4).setOnes();
  try {
    solver.solve(s.points, weights);
    FAIL() << "4 visible joints accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("only 4 visible joints"), std::string::npos) << e.what();
  }
  const Eigen::Matrix2Xd same = Eigen::Vector2d(10, 20).replicate(1, 17);
  try {
    solver.solve(same, Eigen::VectorXd::Ones(17));
    FAIL() << "coincident points accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("coincide"), std::string::npos) << e.what();
  }
  EXPECT_THROW(solver.solve(s.points.leftCols(16), Eigen::VectorXd::Ones(16)), Error);
  EXPECT_THROW(solver.solve(s.points, Eigen::VectorXd::Ones(3)), Error);
}

TEST(SparsePoseSolver, NeverReturnsNonFiniteValuesOnArbitraryInput) {
  std::mt19937 rng(9);
  const PoseDictionary d = random_dictionary(32, rng);
  const SparsePoseSolver solver(d);
  std::uniform_real_distribution<double> coordinate(-1e4, 1e4);
  for (int trial = 0; trial < 50; ++trial) {
    Eigen::Matrix2Xd points(2, 17);
    for (int i = 0; i < points.size(); ++i) points.data()[i] = coordinate(rng);
    if (trial % 5 == 0) points.row(1).setConstant(3.0);  // collinear
    if (trial % 7 == 0) points *= 1e-6;                  // tiny but distinct
    const SparsePose pose = solver.solve(points, Eigen::VectorXd::Ones(17));
    EXPECT_TRUE(pose.joints.allFinite() && pose.coefficients.allFinite() && std::isfinite(pose.objective));
  }
}

// The lifter on the authors' own dictionary (GPL, read from the shared data at test time only): the pose
// comes back in metres with the requested mean bone length, pelvis at the origin.
// A person moving smoothly (coefficients and rotation drift from frame to frame), seen with 3 px of 2D noise:
// solving the frames together averages the noise that single frames fit, and a frame with too few joints is
// left out without breaking its neighbours.
TEST(SparsePoseSolver, VideoBeatsSingleFramesOnASmoothMotion) {
  std::mt19937 rng(11);
  const PoseDictionary d = random_dictionary(32, rng);
  SparseLiftOptions options;
  options.alpha = 0.05;  // these unit-norm bases need less shrinkage than the default's (noise-free: 4 mm)
  const SparsePoseSolver solver(d, options);
  std::normal_distribution<double> normal;
  constexpr int kFrames = 40;
  const int bases[3] = {2, 9, 17};
  const Eigen::Matrix3d start = random_rotation(rng);
  std::vector<Eigen::Matrix3Xd> truth(kFrames);
  std::vector<Eigen::Matrix2Xd> points(kFrames);
  std::vector<Eigen::VectorXd> weights(kFrames, Eigen::VectorXd::Ones(17));
  for (int t = 0; t < kFrames; ++t) {
    const double phase = 0.08 * t;
    Eigen::Matrix3Xd shape = (1.0 + 0.3 * std::sin(phase)) * d.basis(bases[0]) +
                             (0.8 + 0.3 * std::cos(1.3 * phase)) * d.basis(bases[1]) + 0.6 * d.basis(bases[2]);
    const Eigen::Matrix3d R = Eigen::AngleAxisd(0.02 * t, Eigen::Vector3d::UnitY()).toRotationMatrix() * start;
    truth[std::size_t(t)] = R * shape;
    truth[std::size_t(t)] *= 259.0 / mean_bone_length(truth[std::size_t(t)], JointSet::H36m17);
    points[std::size_t(t)] = 0.2 * truth[std::size_t(t)].topRows<2>();
    for (int j = 0; j < 17; ++j) points[std::size_t(t)].col(j) += Eigen::Vector2d(480 + 3 * normal(rng), 320 + 3 * normal(rng));
  }
  weights[20].tail(14).setZero();  // 3 joints: unusable alone

  double single = 0, video = 0;
  const auto sequence = solver.solve_sequence(points, weights);
  ASSERT_EQ(sequence.size(), std::size_t(kFrames));
  EXPECT_FALSE(sequence[20].has_value());
  int n = 0;
  for (int t = 0; t < kFrames; ++t) {
    if (t == 20) continue;
    ASSERT_TRUE(sequence[std::size_t(t)].has_value()) << t;
    single += shape_error_mm(solver.solve(points[std::size_t(t)], weights[std::size_t(t)]).joints, truth[std::size_t(t)]);
    video += shape_error_mm(sequence[std::size_t(t)]->joints, truth[std::size_t(t)]);
    ++n;
  }
  single /= n;
  video /= n;
  // Measured: single frames 16.0 mm, video 10.1 mm.
  EXPECT_LT(video, 0.8 * single) << "single " << single << " mm, video " << video << " mm";
}

// Heatmaps with a second, stronger mode for two joints (each wrist also "seen" at the other's place, as a
// left/right mix-up of a 2D network looks): the strongest cell picks the wrong wrists, EM with the shape model
// finds the right ones.
TEST(SparsePoseSolver, EmWithHeatmapsResolvesAmbiguousJoints) {
  std::mt19937 rng(17);
  const PoseDictionary d = random_dictionary(32, rng);
  SparseLiftOptions options;
  options.alpha = 0.05;
  const SparsePoseSolver solver(d, options);
  std::normal_distribution<double> normal;
  double argmax_error = 0, em_error = 0;
  constexpr int kTrials = 10;
  for (int trial = 0; trial < kTrials; ++trial) {
    const Sample s = random_sample(d, 3, rng);
    std::vector<KeypointHeatmap> heatmaps(17);
    for (int j = 0; j < 17; ++j) {  // a small blob of samples around the true point
      KeypointHeatmap& h = heatmaps[std::size_t(j)];
      h.points.resize(2, 9);
      h.weights.resize(9);
      for (int i = 0; i < 9; ++i) {
        h.points.col(i) = s.points.col(j) + Eigen::Vector2d(2.0 * normal(rng), 2.0 * normal(rng));
        h.weights[i] = 1.0;
      }
    }
    // H36M-17: 13 left wrist, 16 right wrist. Each also shows the other wrist, more strongly.
    for (auto [j, other] : {std::pair{13, 16}, std::pair{16, 13}}) {
      KeypointHeatmap& h = heatmaps[std::size_t(j)];
      h.points.conservativeResize(2, 18);
      h.weights.conservativeResize(18);
      for (int i = 9; i < 18; ++i) {
        h.points.col(i) = s.points.col(other) + Eigen::Vector2d(2.0 * normal(rng), 2.0 * normal(rng));
        h.weights[i] = 1.5;
      }
    }
    // The strongest sample per joint, as a detector's single keypoint would be.
    Eigen::Matrix2Xd argmax(2, 17);
    for (int j = 0; j < 17; ++j) {
      Eigen::Index best = 0;
      heatmaps[std::size_t(j)].weights.maxCoeff(&best);
      argmax.col(j) = heatmaps[std::size_t(j)].points.col(best);
    }
    argmax_error += shape_error_mm(solver.solve(argmax, Eigen::VectorXd::Ones(17)).joints, s.joints) / kTrials;
    em_error += shape_error_mm(solver.solve_with_heatmaps(heatmaps).joints, s.joints) / kTrials;
  }
  // Measured: strongest cells 64.0 mm, EM 22.2 mm.
  EXPECT_LT(em_error, 0.5 * argmax_error) << "argmax " << argmax_error << " mm, EM " << em_error << " mm";
}

// People close to a real camera (2.5 m, off to the side): weak perspective misreads the depth variation as
// shape and rotation; the perspective refinement with the known intrinsics recovers the pose much better.
TEST(SparseLifter, PerspectiveRefinementHelpsCloseToTheCamera) {
  std::mt19937 rng(13);
  const PoseDictionary d = random_dictionary(32, rng);
  PinholeCamera<double> camera;
  camera.fx = camera.fy = 1000;
  camera.cx = camera.cy = 500;
  SparseLifterOptions weak_options, perspective_options;
  weak_options.solver.alpha = perspective_options.solver.alpha = 0.05;
  weak_options.perspective = false;
  // A random dictionary has no mirror symmetry (the mirror image of its poses is no combination of its bases).
  weak_options.flip_average = perspective_options.flip_average = false;
  const SparseLifter weak(d, weak_options), perspective(d, perspective_options);
  std::uniform_int_distribution<int> pick(0, d.size() - 1);
  double weak_error = 0, perspective_error = 0;
  constexpr int kTrials = 20;
  for (int trial = 0; trial < kTrials; ++trial) {
    Eigen::Matrix3Xd shape = Eigen::Matrix3Xd::Zero(3, 17);
    for (int i = 0; i < 3; ++i) shape += (0.5 + 0.1 * i) * d.basis(pick(rng));
    Eigen::Matrix3Xd truth = random_rotation(rng) * shape;
    truth *= 0.259 / mean_bone_length(truth, JointSet::H36m17);
    truth.colwise() -= truth.col(0).eval();
    Keypoints2D kp = Keypoints2D::zeros(JointSet::H36m17);
    for (int j = 0; j < 17; ++j) kp.xy.col(j) = camera.project(Eigen::Vector3d(truth.col(j) + Eigen::Vector3d(0.8, 0.2, 2.5)));
    kp.confidence.setOnes();
    auto error = [&](const SparseLifter& lifter) {
      return (lifter.lift(kp, &camera).joints.xyz - truth).colwise().norm().mean() * 1000.0;
    };
    weak_error += error(weak) / kTrials;
    perspective_error += error(perspective) / kTrials;
  }
  // Measured: weak perspective 57.6 mm, with the refinement 4.4 mm.
  EXPECT_LT(perspective_error, 0.5 * weak_error) << "weak " << weak_error << " mm, perspective " << perspective_error << " mm";
}

TEST(SparseLifter, RecoversPosesOfTheReferenceDictionary) {
  MONOBODY_SHARED_FILE_OR_SKIP(path, "reference/monocap_posedicts/poseDict-all-K128.json");
  std::mt19937 rng(21);
  PoseDictionary d = read_pose_dictionary(path);
  SparseLifterOptions options;
  options.solver.alpha = 1e-3;
  options.solver.admm_tolerance = 1e-4;
  options.solver.max_refine_iterations = 100;  // run to convergence (the defaults are tuned for speed)
  options.solver.refine_tolerance = 1e-9;
  options.solver.max_admm_iterations = 2000;
  options.flip_average = false;  // exact recovery: the mirror image of a combination of bases is not one
  const SparseLifter lifter(d, options);
  double worst = 0.0;
  for (int trial = 0; trial < 10; ++trial) {
    const Sample s = random_sample(lifter.dictionary(), 3, rng);
    Keypoints2D kp = Keypoints2D::zeros(JointSet::H36m17);
    kp.xy = s.points;
    kp.confidence.setOnes();
    const LiftOutput out = lifter.lift(kp, nullptr);
    EXPECT_NEAR(mean_bone_length(out.joints.xyz, JointSet::H36m17), kH36mMeanBoneLength, 1e-9);
    EXPECT_LT(out.joints.xyz.col(0).norm(), 1e-12);
    worst = std::max(worst, shape_error_mm(out.joints.xyz * 1000.0, s.joints));
  }
  // MonoCap's bases are real poses, far more alike than random ones, so a few random 3-sparse combinations are
  // only recovered to a few millimetres at this alpha (the random dictionaries above: < 1 mm).
  EXPECT_LT(worst, 5.0);
}

// MPII-16 input goes through the joint mapping; with a camera the points are normalised first.
TEST(SparseLifter, AcceptsOtherJointSetsAndACamera) {
  std::mt19937 rng(4);
  PoseDictionary d = random_dictionary(32, rng);
  const SparseLifter lifter(d);
  const Sample s = random_sample(lifter.dictionary(), 2, rng);
  Keypoints2D kp = Keypoints2D::zeros(JointSet::H36m17);
  kp.xy = s.points;
  kp.confidence.setOnes();
  const Keypoints2D mpii = map_joints(kp, JointSet::Mpii16);
  PinholeCamera<double> camera;
  camera.fx = camera.fy = 1000;
  camera.cx = 500;
  camera.cy = 500;
  camera.distortion.k1 = -0.2;
  const LiftOutput out = lifter.lift(mpii, &camera);
  EXPECT_TRUE(out.joints.xyz.allFinite());
  EXPECT_EQ(out.joints.joint_set, JointSet::H36m17);
  EXPECT_GT(out.iterations, 0);
  EXPECT_NEAR(mean_bone_length(out.joints.xyz, JointSet::H36m17), kH36mMeanBoneLength, 1e-9);
}

}  // namespace
}  // namespace monobody
