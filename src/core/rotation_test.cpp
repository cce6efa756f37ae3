#include "monobody/rotation.hpp"

#include <ceres/jet.h>
#include <gtest/gtest.h>

#include <random>

namespace monobody {
namespace {

Eigen::Matrix3d random_rotation(std::mt19937& rng) {
  std::normal_distribution<double> n;
  return Eigen::Quaterniond(n(rng), n(rng), n(rng), n(rng)).normalized().toRotationMatrix();
}

TEST(Rotation, AxisAngleRoundTrip) {
  std::mt19937 rng(1);
  for (int i = 0; i < 100; ++i) {
    const Eigen::Matrix3d R = random_rotation(rng);
    const Eigen::Vector3d aa = matrix_to_axis_angle<double>(R);
    EXPECT_LE(aa.norm(), M_PI + 1e-9);
    EXPECT_LT((axis_angle_to_matrix<double>(aa) - R).norm(), 1e-9);
    // Agrees with Eigen's own angle-axis.
    EXPECT_LT((Eigen::AngleAxisd(aa.norm(), aa.normalized()).toRotationMatrix() - R).norm(), 1e-9);
  }
}

TEST(Rotation, AxisAngleIsSmoothAtZeroUnderAutodiff) {
  using Jet = ceres::Jet<double, 3>;
  Eigen::Matrix<Jet, 3, 1> aa(Jet(0.0, 0), Jet(0.0, 1), Jet(0.0, 2));
  const Mat3<Jet> R = axis_angle_to_matrix<Jet>(aa);
  // d(R)/d(aa_z) at zero is the generator [e_z]_x: R(1,0) = +1, R(0,1) = -1.
  EXPECT_DOUBLE_EQ(R(1, 0).v[2], 1.0);
  EXPECT_DOUBLE_EQ(R(0, 1).v[2], -1.0);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_TRUE(ceres::isfinite(R(r, c)));
}

TEST(Rotation, SixDRoundTripAndGramSchmidt) {
  std::mt19937 rng(2);
  for (int i = 0; i < 50; ++i) {
    const Eigen::Matrix3d R = random_rotation(rng);
    EXPECT_LT((rotation_6d_to_matrix<double>(matrix_to_rotation_6d<double>(R)) - R).norm(), 1e-12);
  }
  // Any non-degenerate 6 numbers give a proper rotation.
  Eigen::Matrix<double, 6, 1> d6;
  d6 << 2, 0.1, 0, 0.3, 3, 0.5;
  const Eigen::Matrix3d R = rotation_6d_to_matrix<double>(d6);
  EXPECT_LT((R.transpose() * R - Eigen::Matrix3d::Identity()).norm(), 1e-12);
  EXPECT_NEAR(R.determinant(), 1.0, 1e-12);
}

TEST(Rotation, EulerRoundTripInEveryOrder) {
  std::mt19937 rng(3);
  for (const char* order : {"XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"}) {
    for (int i = 0; i < 50; ++i) {
      const Eigen::Matrix3d R = random_rotation(rng);
      const Eigen::Vector3d e = matrix_to_euler(R, order);
      EXPECT_LE(std::abs(e[1]), M_PI / 2 + 1e-9) << order;
      EXPECT_LT((euler_to_matrix(e, order) - R).norm(), 1e-9) << order;
    }
  }
  // BVH semantics: "ZXY" with angles (z, x, y) is Rz * Rx * Ry.
  const Eigen::Vector3d e(0.3, -0.2, 0.5);
  const Eigen::Matrix3d expected = Eigen::AngleAxisd(0.3, Eigen::Vector3d::UnitZ()).toRotationMatrix() *
                                   Eigen::AngleAxisd(-0.2, Eigen::Vector3d::UnitX()).toRotationMatrix() *
                                   Eigen::AngleAxisd(0.5, Eigen::Vector3d::UnitY()).toRotationMatrix();
  EXPECT_LT((euler_to_matrix(e, "ZXY") - expected).norm(), 1e-12);
  EXPECT_THROW(euler_to_matrix(e, "ZQ"), Error);
}

TEST(Rotation, NearestRotationProjectsOntoSO3) {
  std::mt19937 rng(4);
  const Eigen::Matrix3d R = random_rotation(rng);
  const Eigen::Matrix3d noisy = R + 0.01 * Eigen::Matrix3d::Random();
  const Eigen::Matrix3d P = nearest_rotation(noisy);
  EXPECT_NEAR(P.determinant(), 1.0, 1e-12);
  EXPECT_LT((P - R).norm(), 0.05);
  // A reflection is mapped to a proper rotation, not to itself.
  EXPECT_NEAR(nearest_rotation(-Eigen::Matrix3d::Identity()).determinant(), 1.0, 1e-12);
}

}  // namespace
}  // namespace monobody
