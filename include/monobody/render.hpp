// A small software rasteriser for meshes in the camera frame: z-buffered triangles for silhouettes (tests,
// fitting) and shaded overlays (flat or smooth Lambert shading) over photos.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "monobody/camera.hpp"
#include "monobody/draw.hpp"
#include "monobody/image.hpp"

namespace monobody {

// The nearest triangle at each pixel. Vertices are camera-frame points (metres, z forward); triangles with a
// vertex at z <= near are skipped. Pixel centres are sampled (OpenCV convention). Buffers are reused.
class Rasterizer {
 public:
  static constexpr double kNear = 0.01;

  void render(const Eigen::Matrix3Xd& vertices, const Eigen::Matrix3Xi& faces, const PinholeCamera<double>& camera,
              int width, int height);
  int width() const { return width_; }
  int height() const { return height_; }
  // Triangle index per pixel (row-major), -1 where no triangle covers the pixel.
  const std::vector<int>& triangle() const { return triangle_; }
  // Camera-frame depth per pixel, +infinity where empty.
  const std::vector<float>& depth() const { return depth_; }
  // Barycentric weights of the pixel centre in its triangle (2 per pixel: of the 2nd and 3rd vertex).
  const std::vector<Eigen::Vector2f>& barycentric() const { return barycentric_; }
  // 255 where the mesh covers a pixel, 0 elsewhere.
  std::vector<std::uint8_t> mask() const;

 private:
  int width_ = 0, height_ = 0;
  std::vector<int> triangle_;
  std::vector<float> depth_;
  std::vector<Eigen::Vector2f> barycentric_;
  Eigen::Matrix2Xd pixels_;
};

enum class Shading { Flat, Smooth };

struct MeshStyle {
  Shading shading = Shading::Smooth;
  Rgb color = {170, 200, 235};
  double opacity = 0.8;  // 1: opaque mesh, 0: invisible
};

// Draws the mesh over `image` (whose size sets the raster), lit from the camera.
void draw_mesh(Image& image, const Eigen::Matrix3Xd& vertices, const Eigen::Matrix3Xi& faces,
               const PinholeCamera<double>& camera, const MeshStyle& style = {});

}  // namespace monobody
