#include "monobody/skeleton.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "monobody/error.hpp"
#include "monobody/keypoints.hpp"

namespace monobody {
namespace {

const JointSet kAllSets[] = {JointSet::BlazePose33, JointSet::Coco17, JointSet::H36m17, JointSet::Mpii16,
                             JointSet::Lsp14};

TEST(Skeleton, DefinitionsAreConsistent) {
  const std::pair<JointSet, int> sizes[] = {{JointSet::BlazePose33, 33}, {JointSet::Coco17, 17},
                                            {JointSet::H36m17, 17},      {JointSet::Mpii16, 16},
                                            {JointSet::Lsp14, 14}};
  for (auto [set, n] : sizes) {
    const Skeleton& s = skeleton(set);
    SCOPED_TRACE(std::string(s.name));
    ASSERT_EQ(s.size(), n);
    ASSERT_EQ(int(s.parents.size()), n);
    ASSERT_EQ(int(s.mirror.size()), n);
    EXPECT_EQ(std::set<std::string_view>(s.joints.begin(), s.joints.end()).size(), std::size_t(n));
    EXPECT_EQ(std::count(s.parents.begin(), s.parents.end(), -1), 1) << "exactly one root";
    for (int j = 0; j < n; ++j) {
      // Following parents reaches the root without cycles.
      int k = j, steps = 0;
      while (k >= 0 && steps <= n) k = s.parents[k], ++steps;
      EXPECT_LE(steps, n) << s.joints[j];
      EXPECT_EQ(s.mirror[s.mirror[j]], j) << s.joints[j];
      const std::string_view name = s.joints[j];
      if (name.starts_with("left_")) {
        EXPECT_TRUE(s.joints[s.mirror[j]].starts_with("right_")) << name;
      }
    }
    for (auto [a, b] : s.bones) {
      EXPECT_TRUE(a >= 0 && a < n && b >= 0 && b < n);
      EXPECT_NE(a, b);
    }
    EXPECT_EQ(parse_joint_set(s.name), set);
  }
}

TEST(Skeleton, JointNamesAreFoundInAnySpelling) {
  EXPECT_EQ(joint_index(JointSet::H36m17, "left knee"), 5);
  EXPECT_EQ(joint_index(JointSet::H36m17, "Left_Knee"), 5);
  EXPECT_EQ(joint_index(JointSet::H36m17, "RIGHT-WRIST"), 16);
  EXPECT_EQ(joint_index(JointSet::BlazePose33, "right foot index"), 32);
  EXPECT_FALSE(find_joint(JointSet::Lsp14, "pelvis").has_value());
  try {
    joint_index(JointSet::H36m17, "left knees");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown joint 'left knees' in h36m17"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("left_knee"), std::string::npos) << "lists the valid names";
  }
  EXPECT_THROW(parse_joint_set("smpl24"), Error);
  EXPECT_EQ(parse_joint_set("H36M17"), JointSet::H36m17);
}

TEST(JointMapping, EveryMappingHasOneRowPerTargetJointWithWeightsSummingToOne) {
  int count = 0;
  for (JointSet from : kAllSets) {
    for (JointSet to : kAllSets) {
      if (!has_joint_mapping(from, to)) continue;
      ++count;
      const JointMapping& m = joint_mapping(from, to);
      ASSERT_EQ(int(m.sources.size()), skeleton(to).size());
      for (const auto& src : m.sources) {
        if (src.empty()) continue;
        double sum = 0;
        for (auto [k, w] : src) {
          EXPECT_TRUE(k >= 0 && k < skeleton(from).size());
          sum += w;
        }
        // Affine combinations: translating every point moves the mapped points the same way.
        EXPECT_NEAR(sum, 1.0, 1e-12) << to_string(from) << " -> " << to_string(to);
      }
    }
  }
  EXPECT_GE(count, 5 + 11);  // identities and the cross-set mappings
  EXPECT_THROW(joint_mapping(JointSet::Lsp14, JointSet::BlazePose33), Error);
}

TEST(JointMapping, CorrespondingJointsHaveTheSameName) {
  // Wherever a mapping copies one joint, the two joints mean the same thing: same name, or a known alias.
  const std::set<std::pair<std::string_view, std::string_view>> aliases = {
      {"upper_neck", "thorax"}, {"thorax", "upper_neck"}, {"nose", "neck_nose"}, {"neck_nose", "nose"},
      {"upper_neck", "neck"},   {"thorax", "neck"}};
  for (JointSet from : kAllSets) {
    for (JointSet to : kAllSets) {
      if (!has_joint_mapping(from, to)) continue;
      const JointMapping& m = joint_mapping(from, to);
      for (int j = 0; j < int(m.sources.size()); ++j) {
        if (m.sources[j].size() != 1) continue;
        const auto a = skeleton(from).joints[m.sources[j][0].first];
        const auto b = skeleton(to).joints[j];
        EXPECT_TRUE(a == b || aliases.count({a, b})) << to_string(from) << "." << a << " -> " << to_string(to) << "." << b;
      }
    }
  }
}

TEST(JointMapping, MapsPointsAndTakesTheWeakestConfidence) {
  Keypoints2D blaze = Keypoints2D::zeros(JointSet::BlazePose33);
  for (int j = 0; j < 33; ++j) {
    blaze.xy.col(j) << 10.0 * j, 100.0 + j;
    blaze.confidence[j] = 0.9;
  }
  blaze.confidence[24] = 0.2;  // right hip
  const Keypoints2D h36m = map_joints(blaze, JointSet::H36m17);
  ASSERT_EQ(h36m.size(), 17);
  EXPECT_DOUBLE_EQ(h36m.xy(0, 0), 0.5 * (230 + 240));  // pelvis = hips' midpoint
  EXPECT_DOUBLE_EQ(h36m.confidence[0], 0.2);
  EXPECT_DOUBLE_EQ(h36m.confidence[4], 0.9);            // left hip alone
  EXPECT_DOUBLE_EQ(h36m.xy(1, 13), 115.0);              // left wrist is BlazePose 15

  // A missing (NaN) source makes the derived joint missing, never NaN.
  blaze.xy(0, 23) = std::nan("");
  const Keypoints2D h2 = map_joints(blaze, JointSet::H36m17);
  EXPECT_FALSE(h2.valid(0));
  EXPECT_TRUE(h2.xy.allFinite());

  const Keypoints2D coco = map_joints(blaze, JointSet::Coco17);
  EXPECT_DOUBLE_EQ(coco.xy(0, 15), 270.0);              // COCO left ankle = BlazePose 27
  const Keypoints2D coco_back = map_joints(Keypoints2D::zeros(JointSet::H36m17), JointSet::Coco17);
  EXPECT_EQ(coco_back.confidence[1], 0.0) << "eyes cannot be derived from H36M";
}

}  // namespace
}  // namespace monobody
