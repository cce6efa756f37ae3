#include "monobody/h36m_data.hpp"

#include <gtest/gtest.h>

#include "monobody/error.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

TEST(H36mData, LoadsASubjectWithItsCameras) {
  MONOBODY_SHARED_FILE_OR_SKIP(dir, "h36m");
  const auto seqs = load_h36m(dir, {"S9"});
  ASSERT_EQ(seqs.size(), 29u);  // data README: S9 has 29 sequences
  int suspects = 0;
  for (const auto& s : seqs) suspects += s.gt_offset_suspect;
  EXPECT_EQ(suspects, 3);  // Greeting, SittingDown_1, Waiting_1
  const H36mSequence& s = seqs.front();
  EXPECT_EQ(s.cameras[0].id, "54138969");
  EXPECT_EQ(s.cameras[0].width, 1000);
  EXPECT_EQ(s.cameras[0].height, 1002);
  // Every camera looks at the subject: the pelvis is 3-7 m in front of each.
  for (const auto& cam : s.cameras) {
    const Eigen::Vector3d pelvis(s.world.at({0, 0, 0}), s.world.at({0, 0, 1}), s.world.at({0, 0, 2}));
    const double z = cam.pose.to_camera(pelvis).z();
    EXPECT_GT(z, 3000.0) << cam.id;
    EXPECT_LT(z, 7000.0) << cam.id;
  }
  const auto det = s.detections(2);
  EXPECT_EQ(det.shape[0], s.frame_count());
  EXPECT_THROW(load_h36m(dir, {"S11"}), Error);  // held out: not in the shared data
}

}  // namespace
}  // namespace monobody
