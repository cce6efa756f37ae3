#include "monobody/draw.hpp"

#include <gtest/gtest.h>

namespace monobody {
namespace {

int colored_pixels(const Image& image, int x0, int y0, int x1, int y1) {
  int n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const std::uint8_t* p = image.row(y) + 3 * x;
      n += (p[0] | p[1] | p[2]) != 0;
    }
  return n;
}

TEST(DrawSkeleton, DrawsBonesBetweenConfidentJointsOnly) {
  Image image(200, 200);
  Keypoints2D kp = Keypoints2D::zeros(JointSet::H36m17);
  kp.xy.col(0) << 100, 100;  // pelvis
  kp.xy.col(4) << 130, 100;  // left hip
  kp.xy.col(5) << 130, 160;  // left knee (confidence 0: hidden)
  kp.confidence[0] = kp.confidence[4] = 1.0;
  draw_skeleton(image, kp, 0, {.thickness = 2, .draw_label = false});
  // The pelvis-left hip bone is drawn ...
  EXPECT_GT(colored_pixels(image, 105, 97, 125, 104), 40);
  // ... the hidden knee and its bone are not.
  EXPECT_EQ(colored_pixels(image, 120, 120, 140, 170), 0);
  // The left side is drawn in orange (RGB: red high, blue low).
  const std::uint8_t* px = image.row(100) + 3 * 115;
  EXPECT_GT(px[0], 200);
  EXPECT_LT(px[2], 100);
}

TEST(DrawSkeleton, PersonColoursDiffer) {
  EXPECT_NE(person_color(0), person_color(1));
  EXPECT_EQ(person_color(0), person_color(10));
  EXPECT_EQ(person_color(-1), person_color(9));
}

}  // namespace
}  // namespace monobody
