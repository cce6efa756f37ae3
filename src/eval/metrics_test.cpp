#include <gtest/gtest.h>

#include <Eigen/Geometry>

#include "monobody/error.hpp"
#include "monobody/eval.hpp"

namespace monobody {
namespace {

Eigen::Matrix3Xd pose() {
  Eigen::Matrix3Xd p(3, 5);
  p << 0, 100, -100, 30, 0,  //
      0, 50, 50, -400, -600,  //
      0, 10, -20, 40, 5;
  return p;
}

TEST(Metrics, MpjpeAlignsTheRoot) {
  const Eigen::Matrix3Xd truth = pose();
  Eigen::Matrix3Xd estimate = truth.colwise() + Eigen::Vector3d(1000, -20, 5);
  EXPECT_NEAR(mpjpe(estimate, truth), 0.0, 1e-12);
  estimate.col(3).x() += 50;  // one of five joints 50 mm off
  EXPECT_NEAR(mpjpe(estimate, truth), 10.0, 1e-12);
  EXPECT_THROW(mpjpe(estimate.leftCols(4), truth), Error);
}

TEST(Metrics, ProcrustesUndoesASimilarityAndNeverReflects) {
  const Eigen::Matrix3Xd truth = pose();
  const Eigen::Matrix3d R = Eigen::AngleAxisd(0.7, Eigen::Vector3d(1, 2, 3).normalized()).toRotationMatrix();
  const Eigen::Matrix3Xd moved = ((2.5 * R) * truth).colwise() + Eigen::Vector3d(10, 20, 30);
  const Similarity s = procrustes(moved, truth);
  EXPECT_NEAR(s.scale, 1 / 2.5, 1e-12);
  EXPECT_NEAR(pa_mpjpe(moved, truth), 0.0, 1e-9);
  EXPECT_NEAR(s.rotation.determinant(), 1.0, 1e-12);
  // A mirror image is not a similarity: the error stays large.
  const Eigen::Matrix3Xd mirrored = Eigen::Vector3d(1, 1, -1).asDiagonal() * truth;
  EXPECT_GT(pa_mpjpe(mirrored, truth), 5.0);
  EXPECT_LE(pa_mpjpe(mirrored, truth), mpjpe(mirrored, truth) + 1e-9);
}

TEST(Metrics, ActionNamesOfSequences) {
  EXPECT_EQ(h36m_action_index("SittingDown_1"), 9);
  EXPECT_EQ(h36m_action_index("Sitting"), 8);
  EXPECT_EQ(h36m_action_index("WalkTogether_1"), 14);
  EXPECT_EQ(h36m_action_index("Walking"), 13);
  EXPECT_EQ(h36m_action_index("Dancing"), -1);
}

}  // namespace
}  // namespace monobody
