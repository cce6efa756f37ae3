#include "monobody/result.hpp"

#include <gtest/gtest.h>

#include "monobody/error.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {
using nlohmann::json;

Result sample_result() {
  Result r;
  r.generator = "test";
  FrameResult f;
  f.source = "messi5.jpg";
  f.image_width = 548;
  f.image_height = 342;
  f.camera = default_camera(548, 342);
  f.camera->distortion.k1 = -0.1;
  Person p;
  p.id = 3;
  p.score = 0.87;
  p.bbox << 10, 20, 100, 200;
  Keypoints2D kp = Keypoints2D::zeros(JointSet::Coco17);
  for (int j = 0; j < 17; ++j) {
    kp.xy.col(j) << 100 + j, 50.5 + 2 * j;
    kp.confidence[j] = j / 16.0;
  }
  kp.depth = Eigen::VectorXd::LinSpaced(17, -0.2, 0.2);
  p.keypoints2d = kp;
  Joints3D j3 = Joints3D::zeros(JointSet::H36m17);
  j3.xyz.setRandom();
  j3.confidence.setConstant(1.0);
  p.joints3d = j3;
  BodyParameters body;
  body.model = "monobody-mh";
  body.shape = Eigen::VectorXd::LinSpaced(10, -1, 1);
  body.pose = Eigen::VectorXd::Zero(6);
  body.translation << 0.1, 0.2, 4.0;
  p.body = body;
  p.extras["note"] = "kept";
  f.people.push_back(p);
  r.frames.push_back(f);
  return r;
}

TEST(Result, JsonRoundTripKeepsEverything) {
  const Result r = sample_result();
  const auto dir = test::temp_dir("result");
  write_result(dir / "r.json", r);
  const Result back = read_result(dir / "r.json");
  ASSERT_EQ(back.frames.size(), 1u);
  const FrameResult& f = back.frames[0];
  EXPECT_EQ(f.source, "messi5.jpg");
  EXPECT_EQ(f.image_width, 548);
  ASSERT_TRUE(f.camera.has_value());
  EXPECT_DOUBLE_EQ(f.camera->fx, r.frames[0].camera->fx);
  EXPECT_DOUBLE_EQ(f.camera->distortion.k1, -0.1);
  ASSERT_EQ(f.people.size(), 1u);
  const Person& p = f.people[0];
  EXPECT_EQ(p.id, 3);
  EXPECT_EQ(p.bbox, r.frames[0].people[0].bbox);
  ASSERT_TRUE(p.keypoints2d && p.joints3d && p.body);
  EXPECT_EQ(p.keypoints2d->joint_set, JointSet::Coco17);
  EXPECT_EQ(p.keypoints2d->xy, r.frames[0].people[0].keypoints2d->xy);
  EXPECT_EQ(p.keypoints2d->confidence, r.frames[0].people[0].keypoints2d->confidence);
  EXPECT_EQ(p.keypoints2d->depth, r.frames[0].people[0].keypoints2d->depth);
  EXPECT_EQ(p.joints3d->xyz, r.frames[0].people[0].joints3d->xyz);
  EXPECT_EQ(p.body->shape, r.frames[0].people[0].body->shape);
  EXPECT_EQ(p.body->translation, r.frames[0].people[0].body->translation);
  EXPECT_EQ(p.extras["note"], "kept");
}

std::string error_of(const json& j) {
  try {
    result_from_json(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Result, ValidationNamesTheFirstProblem) {
  const json good = to_json(sample_result());
  EXPECT_EQ(error_of(good), "");

  json j = good;
  j["schema"] = "something.else";
  EXPECT_NE(error_of(j).find("schema"), std::string::npos);

  j = good;
  j["version"] = 99;
  EXPECT_NE(error_of(j).find("unsupported version 99"), std::string::npos);

  j = good;
  j["frames"][0]["people"][0]["keypoints2d"]["points"].erase(0);
  EXPECT_NE(error_of(j).find("frames[0].people[0].keypoints2d.points: coco17 has 17 joints, got 16"),
            std::string::npos)
      << error_of(j);

  j = good;
  j["frames"][0]["people"][0]["keypoints2d"]["points"][2][0] = "x";
  EXPECT_NE(error_of(j).find("points[2][0]: expected a number"), std::string::npos) << error_of(j);

  j = good;
  j["frames"][0]["people"][0]["joints3d"]["joint_set"] = "smpl";
  EXPECT_NE(error_of(j).find("unknown joint set 'smpl'"), std::string::npos) << error_of(j);

  j = good;
  j["frames"][0]["people"][0].erase("id");
  EXPECT_NE(error_of(j).find("missing field 'id'"), std::string::npos) << error_of(j);

  EXPECT_NE(error_of(json::array()).find("expected a JSON object"), std::string::npos);

  // Finite but implausible numbers are corrupt input too: the stages would compute garbage from them (a keypoint
  // at 1e308 px made the body fit print pages of NaN matrices), and an image_size of 70000 x 70000 had the fit
  // allocate a 15 GB picture.
  j = good;
  j["frames"][0]["people"][0]["keypoints2d"]["points"][3][1] = 1e308;
  EXPECT_NE(error_of(j).find("points[3]: a coordinate beyond 1e7"), std::string::npos) << error_of(j);
  j = good;
  j["frames"][0]["image_size"] = {200000, 100};
  EXPECT_NE(error_of(j).find("image_size: image sides must be within 0 to 100000 pixels"), std::string::npos) << error_of(j);
  j = good;
  j["frames"][0]["camera"]["fx"] = 1e-300;
  EXPECT_NE(error_of(j).find("focal lengths must be within 1 to 1e7 pixels"), std::string::npos) << error_of(j);
  j = good;
  j["frames"][0]["people"][0]["body"]["pose"][4] = 1e300;
  EXPECT_NE(error_of(j).find("body.pose: a rotation beyond 1000 radians"), std::string::npos) << error_of(j);
  // Frame numbers: a video's fit computes frame +- 1, which overflowed at 2^31 - 1.
  j = good;
  j["frames"][0]["frame"] = 2147483647;
  EXPECT_NE(error_of(j).find("frames[0].frame: expected an integer within +-1e9"), std::string::npos) << error_of(j);
  j["frames"][0]["frame"] = -5;
  EXPECT_NE(error_of(j).find("frames[0].frame: a frame number is 0 or more"), std::string::npos) << error_of(j);
  j["frames"][0]["frame"] = std::uint64_t(1) << 63;
  EXPECT_NE(error_of(j).find("expected an integer within +-1e9"), std::string::npos) << error_of(j);
}

}  // namespace
}  // namespace monobody
