#include <gtest/gtest.h>

#include "export_test_support.hpp"
#include "monobody/error.hpp"
#include "monobody/export.hpp"

namespace monobody {
namespace {

Person person_with_body(int id, double shape0, double x) {
  Person p;
  p.id = id;
  BodyParameters b;
  b.model = "test";
  b.shape = Eigen::VectorXd::Constant(2, shape0);
  b.pose = Eigen::VectorXd::Constant(6, x);
  b.translation = Eigen::Vector3d(x, 0, 3);
  p.body = b;
  return p;
}

// Person 5 in frames 1, 2 and 4 (missing in 3), person 2 in frame 0 only, person 9 without body parameters.
Result sample_result() {
  Result r;
  r.frames.resize(5);
  r.frames[0].people = {person_with_body(2, 7.0, 0.5)};
  r.frames[1].people = {person_with_body(5, 1.0, 0.1)};
  r.frames[2].people = {person_with_body(5, 4.0, 0.2)};
  r.frames[4].people = {person_with_body(5, 2.0, 0.4)};
  Person no_body;
  no_body.id = 9;
  r.frames[3].people = {no_body};
  return r;
}

TEST(BodyTracks, GroupsByIdFillsGapsAndTakesTheMedianShape) {
  const std::vector<BodyTrack> tracks = body_tracks(sample_result());
  ASSERT_EQ(tracks.size(), 2u);  // person 9 has no body
  EXPECT_EQ(tracks[0].id, 2);
  EXPECT_EQ(tracks[0].first_frame, 0);
  ASSERT_EQ(tracks[0].poses.size(), 1u);
  EXPECT_DOUBLE_EQ(tracks[0].shape[0], 7.0);

  const BodyTrack& t = tracks[1];
  EXPECT_EQ(t.id, 5);
  EXPECT_EQ(t.first_frame, 1);
  ASSERT_EQ(t.poses.size(), 4u);  // frames 1..4
  const double expected_x[] = {0.1, 0.2, 0.2, 0.4};  // frame 3 holds frame 2's pose
  for (std::size_t k = 0; k < 4; ++k) {
    EXPECT_DOUBLE_EQ(t.poses[k].pose[0], expected_x[k]) << k;
    EXPECT_DOUBLE_EQ(t.poses[k].translation.x(), expected_x[k]) << k;
  }
  EXPECT_DOUBLE_EQ(t.shape[0], 2.0);  // median of 1, 4, 2
}

TEST(BodyTracks, EvenCountMedianAndMismatchedShapes) {
  Result r = sample_result();
  r.frames[3].people.push_back(person_with_body(5, 10.0, 0.3));
  const std::vector<BodyTrack> tracks = body_tracks(r);
  EXPECT_DOUBLE_EQ(tracks[1].shape[0], 3.0);  // median of 1, 4, 10, 2
  EXPECT_DOUBLE_EQ(tracks[1].poses[2].pose[0], 0.3);

  r.frames[3].people.back().body->shape = Eigen::VectorXd::Zero(3);
  EXPECT_THROW(body_tracks(r), Error);
}

}  // namespace
}  // namespace monobody
