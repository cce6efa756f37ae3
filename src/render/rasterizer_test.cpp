#include <gtest/gtest.h>

#include "monobody/render.hpp"

namespace monobody {
namespace {

// A square of side 1 m at depth 4 m, seen by a camera with f = 100 px: 25 x 25 pixels.
Eigen::Matrix3Xd square(double z, double size = 1.0) {
  Eigen::Matrix3Xd v(3, 4);
  const double h = size / 2;
  v << -h, h, h, -h,  //
      -h, -h, h, h,   //
      z, z, z, z;
  return v;
}
const Eigen::Matrix3Xi kSquareFaces = (Eigen::Matrix3Xi(3, 2) << 0, 0, 1, 2, 2, 3).finished();

PinholeCamera<double> camera() {
  PinholeCamera<double> c;
  c.fx = c.fy = 100;
  c.cx = c.cy = 49.5;  // the square is centred between pixels 37..62
  return c;
}

TEST(Rasterizer, CoversTheProjectedAreaWithTheRightDepth) {
  Rasterizer r;
  r.render(square(4.0), kSquareFaces, camera(), 100, 100);
  const auto mask = r.mask();
  int covered = 0;
  for (auto m : mask) covered += m == 255;
  // Projected square spans 49.5 +- 12.5 = [37, 62]: 26 x 26 pixel centres (both edges touch pixel centres).
  EXPECT_EQ(covered, 26 * 26);
  EXPECT_EQ(mask[50 * 100 + 50], 255);
  EXPECT_EQ(mask[50 * 100 + 36], 0);
  EXPECT_EQ(mask[50 * 100 + 63], 0);
  EXPECT_FLOAT_EQ(r.depth()[50 * 100 + 50], 4.0f);
}

TEST(Rasterizer, NearerTrianglesHideFartherOnesAndDepthIsPerspectiveCorrect) {
  Eigen::Matrix3Xd v(3, 8);
  v << square(4.0, 2.0), square(2.0, 0.4);
  Eigen::Matrix3Xi f(3, 4);
  f << kSquareFaces, (kSquareFaces.array() + 4).matrix();
  Rasterizer r;
  r.render(v, f, camera(), 100, 100);
  EXPECT_GE(r.triangle()[50 * 100 + 50], 2);   // the small near square
  EXPECT_LE(r.triangle()[50 * 100 + 80], 1);   // the big far one outside it
  EXPECT_FLOAT_EQ(r.depth()[50 * 100 + 50], 2.0f);
  // A tilted quad from z = 2 (left) to z = 4 (right): at the image centre the ray meets it at z = 8/3.
  Eigen::Matrix3Xd tilted(3, 4);
  tilted << -1, 2, 2, -1,  //
      -1, -1, 1, 1,        //
      2, 4, 4, 2;
  // The ray through the image centre (x = 0) meets the edge x = -1 + 3 t, z = 2 + 2 t at t = 1/3.
  PinholeCamera<double> c = camera();
  c.cx = c.cy = 50;
  r.render(tilted, kSquareFaces, c, 100, 100);
  EXPECT_NEAR(r.depth()[50 * 100 + 50], 8.0 / 3.0, 1e-5);
}

TEST(Rasterizer, ShadedOverlayTintsOnlyTheMesh) {
  Image image(100, 100);
  draw_mesh(image, square(4.0), kSquareFaces, camera(), {.shading = Shading::Flat, .color = {200, 100, 50}, .opacity = 1.0});
  const std::uint8_t* centre = image.row(50) + 3 * 50;
  // Facing the camera head-on at the centre: full light (0.25 + 0.75 * cos ~ 1).
  EXPECT_NEAR(centre[0], 200, 2);
  EXPECT_NEAR(centre[1], 100, 1);
  EXPECT_EQ(image.row(10)[30], 0);
}

}  // namespace
}  // namespace monobody
