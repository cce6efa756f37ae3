// Drawing results over images: skeletons with person ids (the overlay pictures of the CLI).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "monobody/image.hpp"
#include "monobody/keypoints.hpp"

namespace monobody {

using Rgb = std::array<std::uint8_t, 3>;

// A distinct colour per person id (a fixed palette, repeating after 10).
Rgb person_color(int id);

struct DrawStyle {
  double min_confidence = 0.3;  // joints below this are not drawn
  int thickness = 0;            // 0: from the image size
  bool draw_label = true;
};

// Draws bones (left side warmer, right side cooler, centre in the person's colour) and joints.
void draw_skeleton(Image& image, const Keypoints2D& keypoints, int person_id, const DrawStyle& style = {});

}  // namespace monobody
