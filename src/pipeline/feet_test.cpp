#include <gtest/gtest.h>

#include <random>

#include "monobody/pipeline.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

double spread(const std::vector<Eigen::Vector3d>& p) {
  Eigen::Vector3d mean = Eigen::Vector3d::Zero();
  for (const auto& x : p) mean += x;
  mean /= double(p.size());
  double s = 0;
  for (const auto& x : p) s += (x - mean).squaredNorm();
  return std::sqrt(s / double(p.size()));
}

// A person standing still 3 m in front of the camera whose fitted translation wobbles by 2 cm per frame (what
// monocular depth does): after pinning, the standing foot moves far less.
TEST(PinFeet, AStandingPersonStopsSliding) {
  const BodyModel model = load_body_model(default_body_model_path());
  std::mt19937 rng(5);
  std::normal_distribution<double> wobble(0.0, 0.02);
  Result result;
  for (int f = 0; f < 90; ++f) {
    FrameResult frame;
    frame.frame = f;
    Person person;
    person.id = 3;
    BodyParameters b;
    b.model = model.name;
    b.shape = Eigen::VectorXd::Zero(model.num_shapes());
    b.pose = Eigen::VectorXd::Zero(3 * model.num_joints());
    b.global_orient = Eigen::Vector3d(M_PI, 0, 0);  // upright, facing the camera
    b.translation = Eigen::Vector3d(wobble(rng), 0.1 + wobble(rng), 3.0 + wobble(rng));
    person.body = b;
    frame.people.push_back(person);
    result.frames.push_back(frame);
  }
  const int left = model.joint("left_foot");
  auto feet = [&] {
    std::vector<Eigen::Vector3d> p;
    BodyPoser poser(model);
    for (const auto& frame : result.frames) {
      const BodyParameters& b = *frame.people[0].body;
      poser.pose({b.shape, b.pose, b.global_orient, b.translation});
      p.push_back(poser.joints().col(left));
    }
    return p;
  };
  const double before = spread(feet());
  EXPECT_NEAR(before, 0.02 * std::sqrt(3.0), 0.01);
  EXPECT_GT(pin_feet(result, model, 30.0), 80);
  const double after = spread(feet());
  EXPECT_LT(after, 0.3 * before) << "before " << before << " m, after " << after << " m";
}

// A walking person (the body moves 1.2 m/s) has no contact at speeds like that: nothing is changed.
TEST(PinFeet, AMovingBodyIsLeftAlone) {
  const BodyModel model = load_body_model(default_body_model_path());
  Result result;
  for (int f = 0; f < 30; ++f) {
    FrameResult frame;
    frame.frame = f;
    Person person;
    BodyParameters b;
    b.shape = Eigen::VectorXd::Zero(model.num_shapes());
    b.pose = Eigen::VectorXd::Zero(3 * model.num_joints());
    b.global_orient = Eigen::Vector3d(M_PI, 0, 0);
    b.translation = Eigen::Vector3d(1.2 * f / 30.0, 0.1, 3.0);
    person.body = b;
    frame.people.push_back(person);
    result.frames.push_back(frame);
  }
  EXPECT_EQ(pin_feet(result, model, 30.0), 0);
  EXPECT_DOUBLE_EQ(result.frames[10].people[0].body->translation.x(), 0.4);
}

}  // namespace
}  // namespace monobody
