#include <gtest/gtest.h>

#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/lift.hpp"
#include "monobody/npy.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

TEST(PoseDictionary, WritesAndReadsBack) {
  PoseDictionary d;
  d.bases = Eigen::MatrixXd::Random(3 * 5, 17);
  d.mean = Eigen::Matrix3Xd::Random(3, 17);
  d.info["training"] = {{"command", "monobody train-dictionary"}};
  const auto dir = test::temp_dir("pose_dictionary");
  write_pose_dictionary(dir / "test-k5.json", d);
  const PoseDictionary back = read_pose_dictionary(dir / "test-k5.json");
  EXPECT_EQ(back.size(), 5);
  EXPECT_EQ(back.joint_set, JointSet::H36m17);
  EXPECT_LT((back.bases - d.bases).cwiseAbs().maxCoeff(), 1e-6);  // stored as float32
  EXPECT_LT((back.mean - d.mean).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_EQ(back.info["training"]["command"], "monobody train-dictionary");
}

TEST(PoseDictionary, ReportsMissingAndMalformedFiles) {
  const auto dir = test::temp_dir("pose_dictionary_bad");
  EXPECT_THROW(read_pose_dictionary(dir / "absent.json"), Error);
  write_file_atomic(dir / "bad.json", R"({"joint_set": "h36m17"})");
  const std::vector<float> wrong(3 * 16, 0.0f);
  write_npy<float>(dir / "bad.B.npy", {1, 3, 16}, wrong.data());
  write_npy<float>(dir / "bad.mu.npy", {3, 16}, wrong.data());
  try {
    read_pose_dictionary(dir / "bad.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(K, 3, 17)"), std::string::npos) << e.what();
  }
  // Another of our JSON files given as a dictionary is named for what it is, before its arrays are looked for.
  write_file_atomic(dir / "ensemble.json", R"({"format": "monobody-mlp-ensemble", "members": ["a.mlp"]})");
  try {
    read_pose_dictionary(dir / "ensemble.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a pose dictionary (its format is \"monobody-mlp-ensemble\")"), std::string::npos) << e.what();
  }
  write_file_atomic(dir / "number.json", R"({"joint_set": 5})");
  try {
    read_pose_dictionary(dir / "number.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("joint_set must be a name"), std::string::npos) << e.what();
  }
}

// MonoCap's joint order (left leg first) is brought to H36M-17 by the file's index_in_h36m17.
TEST(PoseDictionary, ReordersTheReferenceDictionary) {
  MONOBODY_SHARED_FILE_OR_SKIP(path, "reference/monocap_posedicts/poseDict-all-K128.json");
  const PoseDictionary d = read_pose_dictionary(path);
  ASSERT_EQ(d.size(), 128);
  auto raw = read_npy<double>(path.parent_path() / "poseDict-all-K128.mu.npy");
  // MonoCap joint 1 (lhipjoint) is our left_hip (4); joint 4 (rhipjoint) our right_hip (1).
  const int left_hip = joint_index(JointSet::H36m17, "left_hip");
  for (int r = 0; r < 3; ++r) EXPECT_DOUBLE_EQ(d.mean(r, left_hip), raw.at({r, 1}));
  // Upright with y down: the head is above (smaller y than) the ankles. The README measured a mean bone
  // length of 0.964 units.
  EXPECT_LT(d.mean(1, joint_index(JointSet::H36m17, "head")), d.mean(1, joint_index(JointSet::H36m17, "left_ankle")));
  EXPECT_NEAR(mean_bone_length(d.mean, JointSet::H36m17), 0.964, 0.001);
  // Every basis has the same norm (8.0747) and zero mean over the joints.
  for (int k = 0; k < d.size(); ++k) {
    EXPECT_NEAR(d.basis(k).norm(), 8.0747, 1e-3);
    EXPECT_LT(d.basis(k).rowwise().mean().norm(), 1e-5);
  }
}

}  // namespace
}  // namespace monobody
