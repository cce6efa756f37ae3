// The fitter on synthetic people (a short version of `monobody fit --round-trip 50`) and on bad input.
#include <gtest/gtest.h>

#include <algorithm>

#include "monobody/body.hpp"
#include "monobody/error.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

TEST(BodyFit, SyntheticRoundTripExplainsTheImageAndRecoversTheBodyUpToScale) {
  MONOBODY_MODEL_FILE_OR_SKIP(path, "body/monobody_body_v1.bin");
  MONOBODY_SHARED_FILE_OR_SKIP(clip, "mocap/cmu/expmap_li2018/test/walking/walking_1.pos3d.npy");
  const BodyModel model = load_body_model(path);
  const auto poses = retarget_cmu_clip(model, clip, 1);
  ASSERT_GT(poses.size(), 50u);
  BodyRoundTripOptions options;
  options.trials = 3;
  const BodyRoundTripResult r = body_round_trip(model, poses, options);
  for (int i = 0; i < options.trials; ++i) {
    SCOPED_TRACE(i);
    // The fit explains the data: keypoints to about their 2 px noise (2.8 px rms in 2D), silhouettes overlap.
    EXPECT_LT(r.keypoint_rms_px[std::size_t(i)], 4.0);
    EXPECT_GT(r.silhouette_iou[std::size_t(i)], 0.85);
    // Up to the depth-size ambiguity the body is recovered to centimetres (50 synthetic people: mean 34 mm);
    // a fit stuck in a wrong pose or facing the wrong way is off by 100+ mm.
    EXPECT_LT(r.scaled_vertex_error_mm[std::size_t(i)], 80.0);
  }
}

TEST(BodyFit, TooFewKeypointsIsAClearError) {
  MONOBODY_MODEL_FILE_OR_SKIP(path, "body/monobody_body_v1.bin");
  const BodyModel model = load_body_model(path);
  const BodyFitter fitter(model);
  Keypoints2D kp = Keypoints2D::zeros(JointSet::Coco17);
  for (int i = 0; i < 4; ++i) {
    kp.xy.col(i) << 100 + i, 100;
    kp.confidence[i] = 1.0;
  }
  BodyFitInput input;
  input.camera = default_camera(640, 480);
  input.keypoints = &kp;
  try {
    fitter.fit(input);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at least 6 keypoints"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace monobody
