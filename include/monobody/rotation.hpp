// Rotation parameterisations, templated on the scalar (ceres::Jet works). Matrices rotate column vectors.
//
// - axis-angle (3): direction = axis, norm = angle in radians; smooth at zero (Ceres' implementation).
// - quaternion: use Eigen::Quaternion directly (w, x, y, z), Eigen's conventions.
// - 6D (Zhou et al., CVPR 2019): the first two columns of R; Gram-Schmidt recovers R from any 6 numbers.
// - Euler angles for BVH: R = R_a(θ0) R_b(θ1) R_c(θ2) for an axis order "abc" such as "ZXY".
#pragma once

#include <ceres/rotation.h>

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <Eigen/SVD>
#include <cmath>
#include <string>
#include <string_view>

#include "monobody/error.hpp"

namespace monobody {

template <typename T>
using Mat3 = Eigen::Matrix<T, 3, 3>;
template <typename T>
using Vec3 = Eigen::Matrix<T, 3, 1>;

template <typename T>
Mat3<T> axis_angle_to_matrix(const Vec3<T>& axis_angle) {
  Mat3<T> R;
  ceres::AngleAxisToRotationMatrix(axis_angle.data(), ceres::ColumnMajorAdapter3x3(R.data()));
  return R;
}

template <typename T>
Vec3<T> matrix_to_axis_angle(const Mat3<T>& R) {
  Vec3<T> aa;
  ceres::RotationMatrixToAngleAxis(ceres::ColumnMajorAdapter3x3(R.data()), aa.data());
  return aa;
}

template <typename T>
Mat3<T> rotation_6d_to_matrix(const Eigen::Matrix<T, 6, 1>& d6) {
  using std::sqrt;
  Vec3<T> a = d6.template head<3>();
  Vec3<T> b = d6.template tail<3>();
  const Vec3<T> c0 = a / sqrt(a.squaredNorm());
  b -= c0 * c0.dot(b);
  const Vec3<T> c1 = b / sqrt(b.squaredNorm());
  Mat3<T> R;
  R.col(0) = c0;
  R.col(1) = c1;
  R.col(2) = c0.cross(c1);
  return R;
}

template <typename T>
Eigen::Matrix<T, 6, 1> matrix_to_rotation_6d(const Mat3<T>& R) {
  Eigen::Matrix<T, 6, 1> d6;
  d6 << R.col(0), R.col(1);
  return d6;
}

// The rotation nearest to M in the Frobenius norm (orthogonal Procrustes), with det = +1.
inline Eigen::Matrix3d nearest_rotation(const Eigen::Matrix3d& M) {
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(M, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Matrix3d D = Eigen::Matrix3d::Identity();
  D(2, 2) = (svd.matrixU() * svd.matrixV().transpose()).determinant() < 0 ? -1.0 : 1.0;
  return svd.matrixU() * D * svd.matrixV().transpose();
}

inline Eigen::Vector3d axis_vector(char axis) {
  switch (axis) {
    case 'X': case 'x': return Eigen::Vector3d::UnitX();
    case 'Y': case 'y': return Eigen::Vector3d::UnitY();
    case 'Z': case 'z': return Eigen::Vector3d::UnitZ();
  }
  throw Error(std::string("invalid rotation axis '") + axis + "'");
}

// Euler angles (radians) in the given axis order -> matrix, R = R_order[0] R_order[1] R_order[2].
inline Eigen::Matrix3d euler_to_matrix(const Eigen::Vector3d& angles, std::string_view order) {
  if (order.size() != 3) throw Error("Euler order must have three axes, got '" + std::string(order) + "'");
  Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
  for (int i = 0; i < 3; ++i) R = R * Eigen::AngleAxisd(angles[i], axis_vector(order[i])).toRotationMatrix();
  return R;
}

// Matrix -> Euler angles in the given order, the inverse of euler_to_matrix. Of the two solutions the one
// with the smaller middle angle is returned (for Tait-Bryan orders such as "ZXY" it lies in [-pi/2, pi/2]).
inline Eigen::Vector3d matrix_to_euler(const Eigen::Matrix3d& R, std::string_view order) {
  if (order.size() != 3) throw Error("Euler order must have three axes, got '" + std::string(order) + "'");
  auto index = [](char a) { return int(axis_vector(a).dot(Eigen::Vector3d(0, 1, 2))); };
  const int i = index(order[0]), j = index(order[1]), k = index(order[2]);
  const Eigen::Vector3d e = R.eulerAngles(i, j, k);  // Eigen: first angle in [0, pi]
  auto wrap = [](double a) { return std::remainder(a, 2 * M_PI); };
  // The other solution of the same rotation: (a0 + pi, pi - a1, a2 + pi) for Tait-Bryan orders,
  // (a0 + pi, -a1, a2 + pi) for proper Euler orders (first axis == last axis).
  const Eigen::Vector3d alt(wrap(e[0] + M_PI), wrap(i == k ? -e[1] : M_PI - e[1]), wrap(e[2] + M_PI));
  const Eigen::Vector3d first(wrap(e[0]), wrap(e[1]), wrap(e[2]));
  return std::abs(alt[1]) < std::abs(first[1]) ? alt : first;
}

}  // namespace monobody
