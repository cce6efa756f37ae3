// Pictures of a result that people would rather look at than read: the people over their image (skeleton and
// shaded body), and the same people seen from the side (where depth mistakes show).
#pragma once

#include "monobody/body.hpp"
#include "monobody/image.hpp"
#include "monobody/result.hpp"

namespace monobody {

// Draws each person's body mesh (when fitted and `model` is given) and 2D skeleton over `image`, in the
// person's colour. The frame's camera (else default_camera) projects the meshes.
void draw_frame_overlay(Image& image, const FrameResult& frame, const BodyModel* model);

// The people of a frame seen from their right-hand side by a virtual camera at the same height, looking at
// their centre: bodies shaded, or the 3D skeletons when there are no bodies; the real camera's line of sight
// drawn as a dashed line so depth errors are visible. Throws monobody::Error when nobody has 3D joints.
Image side_view(const FrameResult& frame, const BodyModel* model, int width = 640, int height = 480);

}  // namespace monobody
