// Camera models, templated on the scalar type so the same code runs under Ceres autodiff (ceres::Jet).
//
// Conventions follow OpenCV: camera frame x right, y down, z forward; pixel (0, 0)'s centre at (0, 0);
// distortion (k1, k2, p1, p2, k3) as in cv::projectPoints. World-to-camera: X_cam = R X_world + t.
#pragma once

#include <Eigen/Core>
#include <cmath>

namespace monobody {

template <typename T>
struct Distortion {
  T k1 = T(0), k2 = T(0), p1 = T(0), p2 = T(0), k3 = T(0);

  bool is_zero() const { return k1 == T(0) && k2 == T(0) && p1 == T(0) && p2 == T(0) && k3 == T(0); }

  // Normalized undistorted (x, y) -> normalized distorted (xd, yd).
  void apply(const T& x, const T& y, T& xd, T& yd) const {
    const T r2 = x * x + y * y;
    const T radial = T(1) + r2 * (k1 + r2 * (k2 + r2 * k3));
    xd = x * radial + T(2) * p1 * x * y + p2 * (r2 + T(2) * x * x);
    yd = y * radial + p1 * (r2 + T(2) * y * y) + T(2) * p2 * x * y;
  }
};

template <typename T>
struct PinholeCamera {
  T fx = T(1), fy = T(1), cx = T(0), cy = T(0);
  Distortion<T> distortion;

  // Camera-frame point -> pixel. Points at or behind the camera (z <= 0) give non-finite pixels.
  Eigen::Matrix<T, 2, 1> project(const Eigen::Matrix<T, 3, 1>& X) const {
    const T x = X.x() / X.z();
    const T y = X.y() / X.z();
    T xd, yd;
    distortion.apply(x, y, xd, yd);
    return {fx * xd + cx, fy * yd + cy};
  }

  // Pixel -> normalized undistorted coordinates (x/z, y/z), by fixed-point iteration as
  // cv::undistortPoints does; exact to ~1e-9 for the moderate distortion of real lenses.
  Eigen::Matrix<T, 2, 1> normalized(const Eigen::Matrix<T, 2, 1>& uv, int iterations = 20) const {
    const T xd = (uv.x() - cx) / fx;
    const T yd = (uv.y() - cy) / fy;
    T x = xd, y = yd;
    if (distortion.is_zero()) return {x, y};
    for (int i = 0; i < iterations; ++i) {
      const T r2 = x * x + y * y;
      const T radial = T(1) + r2 * (distortion.k1 + r2 * (distortion.k2 + r2 * distortion.k3));
      const T dx = T(2) * distortion.p1 * x * y + distortion.p2 * (r2 + T(2) * x * x);
      const T dy = distortion.p1 * (r2 + T(2) * y * y) + T(2) * distortion.p2 * x * y;
      x = (xd - dx) / radial;
      y = (yd - dy) / radial;
    }
    return {x, y};
  }

  // Pixel and depth (z in the camera frame) -> camera-frame point.
  Eigen::Matrix<T, 3, 1> unproject(const Eigen::Matrix<T, 2, 1>& uv, const T& depth) const {
    const Eigen::Matrix<T, 2, 1> n = normalized(uv);
    return {n.x() * depth, n.y() * depth, depth};
  }

  template <typename U>
  PinholeCamera<U> cast() const {
    PinholeCamera<U> c;
    c.fx = U(fx), c.fy = U(fy), c.cx = U(cx), c.cy = U(cy);
    c.distortion = {U(distortion.k1), U(distortion.k2), U(distortion.p1), U(distortion.p2), U(distortion.k3)};
    return c;
  }
};

// A camera for an image whose intrinsics are unknown: principal point at the centre, focal length equal to
// the image diagonal (a field of view of about 53 degrees, typical of phones and webcams).
inline PinholeCamera<double> default_camera(int width, int height) {
  PinholeCamera<double> c;
  c.fx = c.fy = std::hypot(double(width), double(height));
  c.cx = (width - 1) / 2.0;
  c.cy = (height - 1) / 2.0;
  return c;
}

// Weak perspective (scaled orthographic): uv = scale * (x, y) + translation.
template <typename T>
struct WeakPerspectiveCamera {
  T scale = T(1);
  Eigen::Matrix<T, 2, 1> translation = Eigen::Matrix<T, 2, 1>::Zero();

  Eigen::Matrix<T, 2, 1> project(const Eigen::Matrix<T, 3, 1>& X) const {
    return scale * X.template head<2>() + translation;
  }
};

// World-to-camera rigid transform: X_cam = R X_world + t.
template <typename T>
struct CameraPose {
  Eigen::Matrix<T, 3, 3> R = Eigen::Matrix<T, 3, 3>::Identity();
  Eigen::Matrix<T, 3, 1> t = Eigen::Matrix<T, 3, 1>::Zero();

  Eigen::Matrix<T, 3, 1> to_camera(const Eigen::Matrix<T, 3, 1>& X_world) const { return R * X_world + t; }
  Eigen::Matrix<T, 3, 1> to_world(const Eigen::Matrix<T, 3, 1>& X_cam) const { return R.transpose() * (X_cam - t); }
};

}  // namespace monobody
