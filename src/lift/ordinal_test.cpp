#include "monobody/ordinal.hpp"

#include <gtest/gtest.h>

#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

using Order = OrdinalRelation::Order;

TEST(OrdinalRelations, ParsesTheSeedSyntax) {
  const auto rel = parse_ordinal_relations(
      "# annotator 3\n"
      "Z(left knee) > Z(right knee)\n"
      "\n"
      "  z( Left_Wrist )<Z(head)  \n"
      "Z(left wrist) = Z(left elbow)\r\n");
  ASSERT_EQ(rel.size(), 3u);
  EXPECT_EQ(rel[0].a, joint_index(JointSet::H36m17, "left_knee"));
  EXPECT_EQ(rel[0].b, joint_index(JointSet::H36m17, "right_knee"));
  EXPECT_EQ(rel[0].order, Order::Farther);
  EXPECT_EQ(rel[1].order, Order::Nearer);
  EXPECT_EQ(rel[1].b, joint_index(JointSet::H36m17, "head"));
  EXPECT_EQ(rel[2].order, Order::Equal);
  EXPECT_EQ(format_ordinal_relation(rel[0]), "Z(left knee) > Z(right knee)");
  EXPECT_EQ(parse_ordinal_relations(format_ordinal_relation(rel[2]))[0].b, rel[2].b);
  // Other joint sets by their own names.
  EXPECT_EQ(parse_ordinal_relations("Z(nose) < Z(left ear)", JointSet::Coco17)[0].b, 3);
}

TEST(OrdinalRelations, MalformedLinesNameTheLineAndTheProblem) {
  auto error_of = [](const std::string& text) {
    try {
      parse_ordinal_relations(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of("Z(left knee) > Z(right knee)\nleft knee is nearer").find("relation line 2: expected"),
            std::string::npos);
  EXPECT_NE(error_of("Z(left knee) >> Z(right knee)").find("expected 'Z(joint) > Z(joint)'"), std::string::npos);
  const std::string unknown = error_of("Z(left kneecap) > Z(right knee)");
  EXPECT_NE(unknown.find("relation line 1: unknown joint 'left kneecap'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("left_knee"), std::string::npos) << "lists the valid names";
  EXPECT_NE(error_of("Z(head) = Z(Head)").find("related to itself"), std::string::npos);
  EXPECT_EQ(error_of(""), "");
}

// A binary file given as relations (a picture, by mistake) is named as such; its bytes are not echoed.
TEST(OrdinalRelations, ABinaryFileIsNotEchoed) {
  const auto dir = test::temp_dir("relations_binary");
  write_file_atomic(dir / "photo.txt", std::string("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", 12));
  try {
    read_ordinal_relations(dir / "photo.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a text file of relations"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("JFIF"), std::string::npos) << e.what();
  }
}

Eigen::Matrix3Xd standing_pose() {
  // Root-relative metres, camera frame (y down), facing the camera, left side at +x.
  Eigen::Matrix3Xd X(3, 17);
  X << 0, -0.13, -0.14, -0.15, 0.13, 0.14, 0.15, 0, 0, 0, 0, 0.18, 0.25, 0.3, -0.18, -0.25, -0.3,  //
      0, 0, 0.45, 0.85, 0, 0.45, 0.85, -0.25, -0.5, -0.6, -0.7, -0.48, -0.22, 0.02, -0.48, -0.22, 0.02,  //
      0, 0.02, -0.1, 0.05, -0.02, 0.12, 0.0, 0.02, 0.04, -0.08, 0.0, 0.05, 0.15, -0.2, 0.03, 0.1, 0.3;
  return X;
}

TEST(OrdinalAccuracy, CountsOrderedPairs) {
  const Eigen::Matrix3Xd truth = standing_pose();
  EXPECT_DOUBLE_EQ(ordinal_accuracy(truth, truth, 0.01), 1.0);
  Eigen::Matrix3Xd flat = truth;
  flat.row(2).setZero();  // every pair "=": right only where the truth is within tolerance
  const double acc = ordinal_accuracy(flat, truth, 0.01);
  EXPECT_GT(acc, 0.0);
  EXPECT_LT(acc, 0.3);
  Eigen::Matrix3Xd reversed = truth;
  reversed.row(2) *= -1;  // the depth-flip ambiguity of a single view: every strict order is wrong ...
  // ... and only the 5 exactly tied pairs of the 136 (depth 0: pelvis, head, ...) stay right.
  EXPECT_NEAR(ordinal_accuracy(reversed, truth, 0.0), 5.0 / 136.0, 1e-12);
}

TEST(PlaceInCamera, RecoversTheTranslationExactly) {
  PinholeCamera<double> cam;
  cam.fx = cam.fy = 1000, cam.cx = 640, cam.cy = 360;
  const Eigen::Matrix3Xd X = standing_pose();
  const Eigen::Vector3d T(0.4, -0.1, 4.5);
  Keypoints2D kp = Keypoints2D::zeros(JointSet::H36m17);
  for (int j = 0; j < 17; ++j) kp.xy.col(j) = cam.project(Eigen::Vector3d(X.col(j) + T));
  kp.confidence.setOnes();
  EXPECT_LT((place_in_camera(X, kp, cam) - T).norm(), 1e-9);
  EXPECT_THROW(place_in_camera(X, Keypoints2D::zeros(JointSet::H36m17), cam), Error);
}

TEST(RefineWithRelations, FixesADepthFlippedLimbAndKeepsTheRest) {
  PinholeCamera<double> cam;
  cam.fx = cam.fy = 1000, cam.cx = 640, cam.cy = 360;
  const Eigen::Matrix3Xd truth = standing_pose();
  const Eigen::Vector3d T(0.2, 0.1, 4.0);
  Keypoints2D kp = Keypoints2D::zeros(JointSet::H36m17);
  for (int j = 0; j < 17; ++j) kp.xy.col(j) = cam.project(Eigen::Vector3d(truth.col(j) + T));
  kp.confidence.setOnes();
  // The lifter got the left forearm's depth backwards: the wrist points away instead of towards us. As a
  // lifter's mistakes do, the wrong wrist still projects onto its keypoint (same ray, wrong depth).
  Eigen::Matrix3Xd estimate = truth;
  const int elbow = 12, wrist = 13;
  const double wrong_depth = T.z() + truth(2, elbow) + (truth(2, elbow) - truth(2, wrist));
  estimate.col(wrist) = cam.unproject(kp.xy.col(wrist), wrong_depth) - T;
  const std::vector<OrdinalRelation> relations = parse_ordinal_relations("Z(left wrist) < Z(left elbow)\n"
                                                                         "Z(left wrist) < Z(left shoulder)");
  EXPECT_EQ(relations_satisfied(estimate, relations, 0.0), 0.0);
  const Eigen::Matrix3Xd refined = refine_with_relations(estimate, kp, cam, relations);
  EXPECT_EQ(relations_satisfied(refined, relations, 0.0), 1.0);
  const double before = (estimate - truth).colwise().norm().mean();
  const double after = (refined - truth).colwise().norm().mean();
  EXPECT_LT(after, 0.2 * before) << "before " << before << " after " << after;
  // Joints the relations do not concern stay within a centimetre.
  for (int j : {0, 1, 2, 3, 4, 5, 6, 14, 15, 16}) EXPECT_LT((refined.col(j) - truth.col(j)).norm(), 0.01) << j;
}

}  // namespace
}  // namespace monobody
