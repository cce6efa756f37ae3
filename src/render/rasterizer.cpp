#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <limits>

#include "monobody/error.hpp"
#include "monobody/render.hpp"

namespace monobody {

void Rasterizer::render(const Eigen::Matrix3Xd& vertices, const Eigen::Matrix3Xi& faces,
                        const PinholeCamera<double>& camera, int width, int height) {
  if (width <= 0 || height <= 0) throw Error("cannot render into an empty image");
  width_ = width;
  height_ = height;
  const std::size_t n = std::size_t(width) * std::size_t(height);
  triangle_.assign(n, -1);
  depth_.assign(n, std::numeric_limits<float>::infinity());
  barycentric_.resize(n);
  pixels_.resize(2, vertices.cols());
  for (Eigen::Index v = 0; v < vertices.cols(); ++v)
    pixels_.col(v) = vertices(2, v) > kNear ? camera.project(Eigen::Vector3d(vertices.col(v)))
                                            : Eigen::Vector2d::Constant(std::numeric_limits<double>::quiet_NaN());
  for (Eigen::Index f = 0; f < faces.cols(); ++f) {
    const int i0 = faces(0, f), i1 = faces(1, f), i2 = faces(2, f);
    const Eigen::Vector2d a = pixels_.col(i0), b = pixels_.col(i1), c = pixels_.col(i2);
    if (!a.allFinite() || !b.allFinite() || !c.allFinite()) continue;
    const double area = (b - a).x() * (c - a).y() - (b - a).y() * (c - a).x();
    if (std::abs(area) < 1e-12) continue;
    const int x0 = std::max(0, int(std::ceil(std::min({a.x(), b.x(), c.x()}))));
    const int x1 = std::min(width - 1, int(std::floor(std::max({a.x(), b.x(), c.x()}))));
    const int y0 = std::max(0, int(std::ceil(std::min({a.y(), b.y(), c.y()}))));
    const int y1 = std::min(height - 1, int(std::floor(std::max({a.y(), b.y(), c.y()}))));
    // Perspective-correct depth: 1/z is linear in screen space.
    const double iz0 = 1.0 / vertices(2, i0), iz1 = 1.0 / vertices(2, i1), iz2 = 1.0 / vertices(2, i2);
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const Eigen::Vector2d p(x, y);
        const double w1 = ((p - a).x() * (c - a).y() - (p - a).y() * (c - a).x()) / area;
        const double w2 = ((b - a).x() * (p - a).y() - (b - a).y() * (p - a).x()) / area;
        const double w0 = 1.0 - w1 - w2;
        // A small tolerance so pixel centres on an edge shared by two triangles are never missed by both.
        constexpr double kEdge = -1e-9;
        if (w0 < kEdge || w1 < kEdge || w2 < kEdge) continue;
        const float z = float(1.0 / (w0 * iz0 + w1 * iz1 + w2 * iz2));
        const std::size_t at = std::size_t(y) * std::size_t(width) + std::size_t(x);
        if (z < depth_[at]) {
          depth_[at] = z;
          triangle_[at] = int(f);
          barycentric_[at] = Eigen::Vector2f(float(w1), float(w2));
        }
      }
  }
}

std::vector<std::uint8_t> Rasterizer::mask() const {
  std::vector<std::uint8_t> out(triangle_.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = triangle_[i] >= 0 ? 255 : 0;
  return out;
}

void draw_mesh(Image& image, const Eigen::Matrix3Xd& vertices, const Eigen::Matrix3Xi& faces,
               const PinholeCamera<double>& camera, const MeshStyle& style) {
  Rasterizer raster;
  raster.render(vertices, faces, camera, image.width(), image.height());
  // Outward normals: faces are counter-clockwise seen from outside.
  Eigen::Matrix3Xd face_normals(3, faces.cols());
  Eigen::Matrix3Xd vertex_normals = Eigen::Matrix3Xd::Zero(3, vertices.cols());
  for (Eigen::Index f = 0; f < faces.cols(); ++f) {
    const Eigen::Vector3d a = vertices.col(faces(0, f)), b = vertices.col(faces(1, f)), c = vertices.col(faces(2, f));
    const Eigen::Vector3d n = (b - a).cross(c - a);  // length = twice the area: area-weighted vertex normals
    for (int k = 0; k < 3; ++k) vertex_normals.col(faces(k, f)) += n;
    face_normals.col(f) = n.normalized();
  }
  vertex_normals.colwise().normalize();
  const double opacity = std::clamp(style.opacity, 0.0, 1.0);
  for (int y = 0; y < image.height(); ++y) {
    std::uint8_t* row = image.row(y);
    for (int x = 0; x < image.width(); ++x) {
      const std::size_t at = std::size_t(y) * std::size_t(image.width()) + std::size_t(x);
      const int f = raster.triangle()[at];
      if (f < 0) continue;
      Eigen::Vector3d normal;
      if (style.shading == Shading::Flat) {
        normal = face_normals.col(f);
      } else {
        const Eigen::Vector2f w = raster.barycentric()[at];
        normal = ((1.0 - w.x() - w.y()) * vertex_normals.col(faces(0, f)) + w.x() * vertex_normals.col(faces(1, f)) +
                  w.y() * vertex_normals.col(faces(2, f))).normalized();
      }
      // Light from the camera: the view ray through the pixel, reversed.
      const Eigen::Vector3d ray = camera.unproject(Eigen::Vector2d(x, y), 1.0).normalized();
      const double lambert = std::abs(normal.dot(-ray));  // two-sided, so inner surfaces are not black
      const double light = 0.25 + 0.75 * lambert;
      for (int k = 0; k < 3; ++k) {
        const double shaded = std::min(255.0, style.color[std::size_t(k)] * light);
        row[3 * x + k] = std::uint8_t(std::lround((1 - opacity) * row[3 * x + k] + opacity * shaded));
      }
    }
  }
}

}  // namespace monobody
