#include "monobody/draw.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace monobody {

Rgb person_color(int id) {
  static const Rgb palette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return palette[((id % 10) + 10) % 10];
}

void draw_skeleton(Image& image, const Keypoints2D& kp, int person_id, const DrawStyle& style) {
  if (image.empty() || kp.size() == 0) return;
  cv::Mat canvas(image.height(), image.width(), CV_8UC3, image.data());
  const int thickness =
      style.thickness > 0 ? style.thickness : std::max(1, int(std::lround(std::max(image.width(), image.height()) / 300.0)));
  const Skeleton& sk = skeleton(kp.joint_set);
  const Rgb base = person_color(person_id);
  auto side_color = [&](int j) -> cv::Scalar {
    const std::string_view name = sk.joints[j];
    if (name.starts_with("left") || name.ends_with("_left")) return {255, 170, 40};   // RGB: orange
    if (name.starts_with("right") || name.ends_with("_right")) return {60, 170, 255}; // RGB: blue
    return {double(base[0]), double(base[1]), double(base[2])};
  };
  auto shown = [&](int j) { return kp.valid(j) && kp.confidence[j] >= style.min_confidence; };
  auto pt = [&](int j) { return cv::Point2d(kp.xy(0, j), kp.xy(1, j)); };
  constexpr int kShift = 4;  // sub-pixel drawing
  auto fixed = [&](cv::Point2d p) { return cv::Point(int(std::lround(p.x * 16)), int(std::lround(p.y * 16))); };

  for (auto [a, b] : sk.bones) {
    if (!shown(a) || !shown(b)) continue;
    cv::line(canvas, fixed(pt(a)), fixed(pt(b)), side_color(b), thickness, cv::LINE_AA, kShift);
  }
  for (int j = 0; j < kp.size(); ++j) {
    if (!shown(j)) continue;
    cv::circle(canvas, fixed(pt(j)), (thickness + 1) * 16, side_color(j), cv::FILLED, cv::LINE_AA, kShift);
  }
  if (style.draw_label) {
    // Label above the highest visible joint.
    int top = -1;
    for (int j = 0; j < kp.size(); ++j)
      if (shown(j) && (top < 0 || kp.xy(1, j) < kp.xy(1, top))) top = j;
    if (top >= 0) {
      const double scale = std::max(0.4, thickness * 0.35);
      const cv::Point org(int(kp.xy(0, top)) - 8, std::max(12, int(kp.xy(1, top)) - 4 * thickness));
      const std::string label = fmt::format("#{}", person_id);
      cv::putText(canvas, label, org, cv::FONT_HERSHEY_SIMPLEX, scale, {0, 0, 0}, thickness + 2, cv::LINE_AA);
      cv::putText(canvas, label, org, cv::FONT_HERSHEY_SIMPLEX, scale, {double(base[0]), double(base[1]), double(base[2])},
                  thickness, cv::LINE_AA);
    }
  }
}

}  // namespace monobody
