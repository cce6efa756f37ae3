// The sparse shape-space solver: convex relaxation by ADMM, then refinement by alternation.
#include <Eigen/Cholesky>
#include <Eigen/LU>
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "monobody/error.hpp"
#include "monobody/lift.hpp"
#include "monobody/rotation.hpp"
#include "sparse_internal.hpp"

namespace monobody {

namespace detail {

NormalizedInput normalize_input(const Eigen::Matrix2Xd& points, const Eigen::VectorXd& weights) {
  const int J = int(points.cols());
  if (weights.size() != J)
    throw Error("lift: " + std::to_string(weights.size()) + " weights for " + std::to_string(J) + " points");
  NormalizedInput in;
  in.weights = Eigen::VectorXd::Zero(J);
  in.points = Eigen::Matrix2Xd::Zero(2, J);
  int visible = 0;
  for (int j = 0; j < J; ++j) {
    if (std::isfinite(weights[j]) && weights[j] > 0 && points.col(j).allFinite()) {
      in.weights[j] = weights[j];
      in.points.col(j) = points.col(j);
      ++visible;
    }
  }
  if (visible < kMinVisibleJoints)
    throw Error("lift: only " + std::to_string(visible) + " visible joints (at least " +
                std::to_string(kMinVisibleJoints) + " are needed)");
  in.weights *= visible / in.weights.sum();
  in.centroid = in.points * in.weights / in.weights.sum();
  in.points.colwise() -= in.centroid;
  for (int j = 0; j < J; ++j)
    if (in.weights[j] == 0) in.points.col(j).setZero();
  const double radius = std::sqrt(in.points.colwise().squaredNorm().dot(in.weights) / in.weights.sum());
  if (!(radius > 1e-9 * (1.0 + in.centroid.norm())))
    throw Error("lift: the visible 2D points all coincide (a degenerate pose)");
  in.scale = radius;
  in.points /= radius;
  return in;
}

}  // namespace detail

using detail::kMinVisibleJoints;
using detail::NormalizedInput;
using detail::normalize_input;

namespace {

// Proximal operator of tau * ||.||_2 (spectral norm) for a 2x3 matrix Q: shrinks its two singular values
// (s1 >= s2) toward each other and zero, s' = s - projection of s onto the l1 ball of radius tau.
// Returns the largest singular value of the result.
double prox_spectral_norm(const Eigen::Matrix<double, 2, 3>& Q, double tau, Eigen::Matrix<double, 2, 3>& out) {
  // Singular values and left vectors of Q from the 2x2 matrix Q Q^T, in closed form.
  const Eigen::Matrix2d A = Q * Q.transpose();
  // (s1 + s2)^2 <= 2 (s1^2 + s2^2) = 2 tr A: most blocks are shrunk to zero, known without a square root.
  if (2 * (A(0, 0) + A(1, 1)) <= tau * tau) {
    out.setZero();
    return 0.0;
  }
  const double half_trace = 0.5 * (A(0, 0) + A(1, 1));
  const double half_diff = 0.5 * (A(0, 0) - A(1, 1));
  const double root = std::sqrt(half_diff * half_diff + A(0, 1) * A(0, 1));  // no overflow: |Q| ~ 1
  const double s1 = std::sqrt(std::max(half_trace + root, 0.0));
  const double s2 = std::sqrt(std::max(half_trace - root, 0.0));
  if (s1 + s2 <= tau) {
    out.setZero();
    return 0.0;
  }
  double t1, t2;  // new singular values
  if (s1 - s2 <= tau) {
    t1 = t2 = 0.5 * (s1 + s2 - tau);
  } else {
    t1 = s1 - tau;
    t2 = s2;
  }
  // Left singular vector of s1: the eigenvector of A for half_trace + root.
  Eigen::Vector2d u1;
  if (root > 1e-300) {
    // (half_diff + root, A01) and (A01, root - half_diff) are both eigenvectors; take the better conditioned.
    u1 = half_diff >= 0 ? Eigen::Vector2d(half_diff + root, A(0, 1)) : Eigen::Vector2d(A(0, 1), root - half_diff);
    u1.normalize();
  } else {
    u1 = Eigen::Vector2d::UnitX();
  }
  const Eigen::Vector2d u2(-u1.y(), u1.x());
  const double r1 = t1 / s1;                  // s1 > 0 here
  const double r2 = s2 > 1e-300 ? t2 / s2 : 0.0;  // t2 <= s2, so this stays bounded
  out.noalias() = (r1 * u1 * u1.transpose() + r2 * u2 * u2.transpose()) * Q;
  return t1;
}

// The 2x3 matrix with orthonormal rows nearest to M (its polar factor).
Eigen::Matrix<double, 2, 3> nearest_orthonormal_rows(const Eigen::Matrix<double, 2, 3>& M) {
  Eigen::JacobiSVD<Eigen::Matrix<double, 2, 3>> svd(M, Eigen::ComputeFullU | Eigen::ComputeFullV);
  return svd.matrixU() * svd.matrixV().leftCols<2>().transpose();
}

Eigen::Matrix3d complete_rotation(const Eigen::Matrix<double, 2, 3>& rows) {
  Eigen::Matrix3d R;
  R.row(0) = rows.row(0);
  R.row(1) = rows.row(1);
  R.row(2) = rows.row(0).cross(rows.row(1));
  return nearest_rotation(R);
}

// min_x 1/2 x^T A x - h^T x + alpha ||x||_1 for a small symmetric positive semi-definite A, exactly (to
// round-off), by feature-sign search (Lee, Battle, Raina and Ng, "Efficient sparse coding algorithms", NIPS
// 2006): guess the signs, solve the linear system of the nonzero coefficients, walk towards its solution as far
// as the objective keeps dropping (stopping where a coefficient changes sign), and activate the zero coefficient
// that violates the optimality conditions most. Starts from x (warm start); its signs are the first guess.
class SmallLasso {
 public:
  void solve(const Eigen::MatrixXd& A, const Eigen::VectorXd& h, double alpha, Eigen::VectorXd& x) {
    const int n = int(x.size());
    const double scale = 1.0 + h.cwiseAbs().maxCoeff() + alpha;
    const double tolerance = 1e-10 * scale;
    const double ridge = 1e-12 * (1.0 + A.diagonal().cwiseAbs().maxCoeff());
    sign_.resize(n);
    for (int i = 0; i < n; ++i) sign_[i] = x[i] > 0 ? 1.0 : x[i] < 0 ? -1.0 : 0.0;
    gradient_.noalias() = A * x;
    gradient_ -= h;
    double value = objective(A, h, alpha, x);
    for (int step = 0; step < 4 * n + 10; ++step) {
      // Optimality: nonzero coefficients have gradient -alpha sign, zero ones |gradient| <= alpha.
      double worst_active = 0.0, worst_zero = alpha + tolerance;
      int activate = -1;
      for (int i = 0; i < n; ++i) {
        if (sign_[i] != 0) {
          worst_active = std::max(worst_active, std::abs(gradient_[i] + alpha * sign_[i]));
        } else if (std::abs(gradient_[i]) > worst_zero) {
          worst_zero = std::abs(gradient_[i]);
          activate = i;
        }
      }
      if (worst_active <= tolerance) {
        if (activate < 0) return;
        sign_[activate] = gradient_[activate] > 0 ? -1.0 : 1.0;
      }
      // The linear system of the active set with its signs fixed.
      active_.clear();
      for (int i = 0; i < n; ++i)
        if (sign_[i] != 0) active_.push_back(i);
      const int s = int(active_.size());
      system_.resize(s, s);
      rhs_.resize(s);
      for (int a = 0; a < s; ++a) {
        for (int b = 0; b < s; ++b) system_(a, b) = A(active_[a], active_[b]);
        system_(a, a) += ridge;
        rhs_[a] = h[active_[a]] - alpha * sign_[active_[a]];
      }
      ldlt_.compute(system_);
      target_ = x;
      solution_ = ldlt_.solve(rhs_);
      for (int a = 0; a < s; ++a) target_[active_[a]] = solution_[a];
      if (!target_.allFinite()) return;
      // Walk from x to the target: try the target and every point where a coefficient crosses zero.
      double best_value = objective(A, h, alpha, target_);
      double best_t = 1.0;
      for (int a = 0; a < s; ++a) {
        const int i = active_[a];
        if (x[i] != 0 && (target_[i] > 0) != (x[i] > 0)) {
          const double t = x[i] / (x[i] - target_[i]);
          trial_ = x + t * (target_ - x);
          trial_[i] = 0.0;
          const double v = objective(A, h, alpha, trial_);
          if (v < best_value) {
            best_value = v;
            best_t = t;
          }
        }
      }
      if (!(best_value < value)) {
        // No progress along this guess (round-off or a wrongly signed activation): drop it and stop.
        if (worst_active <= tolerance) sign_[activate] = 0.0;
        return;
      }
      previous_ = x;
      const Eigen::VectorXd& previous = previous_;
      x = previous + best_t * (target_ - previous);
      for (int a = 0; a < s; ++a) {
        const int i = active_[a];
        // A coefficient that reached zero on the way leaves the active set.
        if (best_t < 1.0 && previous[i] != 0 && (target_[i] > 0) != (previous[i] > 0) &&
            std::abs(previous[i] / (previous[i] - target_[i]) - best_t) <= 1e-15)
          x[i] = 0.0;
        sign_[i] = x[i] > 0 ? 1.0 : x[i] < 0 ? -1.0 : 0.0;
      }
      value = best_value;
      gradient_.noalias() = A * x;
      gradient_ -= h;
    }
  }

 private:
  double objective(const Eigen::MatrixXd& A, const Eigen::VectorXd& h, double alpha, const Eigen::VectorXd& x) {
    product_.noalias() = A * x;
    return 0.5 * x.dot(product_) - h.dot(x) + alpha * x.lpNorm<1>();
  }

  Eigen::VectorXd sign_, gradient_, rhs_, target_, trial_, product_, solution_, previous_;
  std::vector<int> active_;
  Eigen::MatrixXd system_;
  Eigen::LDLT<Eigen::MatrixXd> ldlt_;
};

// The refinement's problem over the active bases, in normalised units.
class Refinement {
 public:
  Refinement(const PoseDictionary& dictionary, const NormalizedInput& in, std::vector<int> active, double alpha)
      : in_(in), active_(std::move(active)), alpha_(alpha), J_(int(in.points.cols())), m_(int(active_.size())) {
    bases_.resize(3 * m_, J_);
    for (int a = 0; a < m_; ++a) bases_.middleRows<3>(3 * a) = dictionary.basis(active_[a]);
    projected_.resize(2 * J_, m_);
    gram_.resize(m_, m_);
    rhs_.resize(m_);
    shape_.resize(3, J_);
    rotated_.resize(3, J_);
    residual_.resize(2, J_);
  }

  // Builds the shape of coefficients c (over the active set).
  void update_shape(const Eigen::VectorXd& c) {
    shape_.setZero();
    for (int a = 0; a < m_; ++a) shape_ += c[a] * bases_.middleRows<3>(3 * a);
  }

  double objective(const Eigen::Matrix3d& R, const Eigen::Vector2d& t, const Eigen::VectorXd& c) {
    residual_ = in_.points;
    residual_.noalias() -= R.topRows<2>() * shape_;
    residual_.colwise() -= t;
    return 0.5 * residual_.colwise().squaredNorm().dot(in_.weights) + alpha_ * c.lpNorm<1>();
  }

  // Optimal translation for fixed shape and rotation: the weighted mean residual.
  Eigen::Vector2d best_translation(const Eigen::Matrix3d& R) {
    residual_ = in_.points;
    residual_.noalias() -= R.topRows<2>() * shape_;
    return residual_ * in_.weights / in_.weights.sum();
  }

  // One Gauss-Newton step on SO(3) (R <- exp(omega) R) with backtracking; never increases the objective.
  double rotation_step(Eigen::Matrix3d& R, const Eigen::Vector2d& t, const Eigen::VectorXd& c, double current) {
    rotated_.noalias() = R * shape_;
    Eigen::Matrix3d H = Eigen::Matrix3d::Zero();
    Eigen::Vector3d g = Eigen::Vector3d::Zero();
    for (int j = 0; j < J_; ++j) {
      const double w = in_.weights[j];
      if (w == 0) continue;
      const Eigen::Vector3d X = rotated_.col(j);
      // d/d omega of Pi (omega x X) = -Pi [X]x; the residual r = W - Pi R S - t moves by +Pi [X]x omega.
      Eigen::Matrix<double, 2, 3> A;
      A << 0, -X.z(), X.y(), X.z(), 0, -X.x();
      const Eigen::Vector2d r = in_.points.col(j) - X.head<2>() - t;
      H.noalias() += w * A.transpose() * A;
      g.noalias() += w * A.transpose() * r;
    }
    // Minimise sum w |r + A omega|^2: H omega = -g. Levenberg damping keeps the step defined when H is
    // singular (e.g. a planar shape).
    H.diagonal().array() += 1e-9 * (1.0 + H.diagonal().maxCoeff());
    Eigen::Vector3d omega = -H.ldlt().solve(g);
    if (!omega.allFinite()) return current;
    for (int tries = 0; tries < 8; ++tries, omega *= 0.5) {
      const Eigen::Matrix3d candidate = axis_angle_to_matrix<double>(omega) * R;
      const double value = objective(candidate, t, c);
      if (value < current) {
        R = nearest_rotation(candidate);
        return value;
      }
    }
    return current;
  }

  // Coefficients for fixed rotation and translation: a weighted lasso over the active bases, solved by
  // coordinate descent (each update minimises the objective exactly along one coefficient).
  void coefficient_step(const Eigen::Matrix3d& R, const Eigen::Vector2d& t, Eigen::VectorXd& c) {
    for (int a = 0; a < m_; ++a) {
      Eigen::Map<Eigen::Matrix2Xd> col(projected_.col(a).data(), 2, J_);
      col.noalias() = R.topRows<2>() * bases_.middleRows<3>(3 * a);
    }
    residual_ = in_.points;
    residual_.colwise() -= t;
    // Weighted Gram matrix and right-hand side; the 2J rows of `projected_` are (x, y) per joint.
    for (int a = 0; a < m_; ++a) {
      Eigen::Map<const Eigen::Matrix2Xd> pa(projected_.col(a).data(), 2, J_);
      rhs_[a] = (pa.cwiseProduct(residual_)).colwise().sum().dot(in_.weights);
      for (int b = a; b < m_; ++b) {
        Eigen::Map<const Eigen::Matrix2Xd> pb(projected_.col(b).data(), 2, J_);
        gram_(a, b) = gram_(b, a) = (pa.cwiseProduct(pb)).colwise().sum().dot(in_.weights);
      }
    }
    for (int sweep = 0; sweep < 50; ++sweep) {
      double change = 0.0;
      for (int a = 0; a < m_; ++a) {
        const double diag = gram_(a, a);
        if (diag <= 1e-12) {
          c[a] = 0.0;
          continue;
        }
        const double z = rhs_[a] - gram_.row(a).dot(c) + diag * c[a];
        const double updated = std::copysign(std::max(std::abs(z) - alpha_, 0.0), z) / diag;
        change = std::max(change, std::abs(updated - c[a]));
        c[a] = updated;
      }
      if (change < 1e-10 * (1.0 + c.lpNorm<Eigen::Infinity>())) break;
    }
    update_shape(c);
  }

  // A proximal Gauss-Newton step in rotation and coefficients together (the translation stays optimal):
  // the residual is linearised in (omega, c), the resulting small lasso is solved by block coordinate
  // descent, and the step is halved until the objective drops. Converges much faster than alternating
  // once near the optimum. Returns the new objective (or `current` if no step helps).
  double joint_step(Eigen::Matrix3d& R, Eigen::Vector2d& t, Eigen::VectorXd& c, double current) {
    const int n = 3 + m_;
    rotated_.noalias() = R * shape_;
    residual_ = in_.points - rotated_.topRows<2>();
    residual_.colwise() -= t;
    for (int a = 0; a < m_; ++a) {
      Eigen::Map<Eigen::Matrix2Xd> col(projected_.col(a).data(), 2, J_);
      col.noalias() = R.topRows<2>() * bases_.middleRows<3>(3 * a);
    }
    design_.resize(2 * J_, n);
    for (int j = 0; j < J_; ++j) {
      const Eigen::Vector3d X = rotated_.col(j);
      design_.block<2, 3>(2 * j, 0) << 0, -X.z(), X.y(), X.z(), 0, -X.x();
      design_.block(2 * j, 3, 2, m_) = -projected_.middleRows<2>(2 * j);
    }
    // Eliminate the translation: centre every column (per image axis) with the weights.
    const double total = in_.weights.sum();
    for (int axis = 0; axis < 2; ++axis) {
      Eigen::Map<Eigen::MatrixXd, 0, Eigen::Stride<Eigen::Dynamic, 2>> rows(
          design_.data() + axis, J_, n, Eigen::Stride<Eigen::Dynamic, 2>(design_.outerStride(), 2));
      const Eigen::RowVectorXd mean = in_.weights.transpose() * rows / total;
      rows.rowwise() -= mean;
    }
    weighted_ = design_;
    for (int j = 0; j < J_; ++j) weighted_.middleRows<2>(2 * j) *= in_.weights[j];
    gram_full_.noalias() = weighted_.transpose() * design_;
    const Eigen::Map<const Eigen::VectorXd> r0(residual_.data(), 2 * J_);
    gradient_.noalias() = weighted_.transpose() * r0;
    add_curvature(R, c);

    // min_delta 1/2 delta^T G delta + g^T delta + alpha ||c + delta_c||_1 (+ a little damping on omega).
    // omega is not penalised: eliminated through its Schur complement, it leaves a lasso in the new
    // coefficients x = c + delta_c, min 1/2 x^T A x - h^T x + alpha ||x||_1, solved exactly.
    Eigen::Matrix3d Gww = gram_full_.topLeftCorner<3, 3>();
    Gww.diagonal().array() += 1e-9 * (1.0 + Gww.diagonal().maxCoeff());
    const Eigen::LDLT<Eigen::Matrix3d> ww(Gww);
    coupling_ = ww.solve(gram_full_.topRightCorner(3, m_));  // Gww^-1 Gwc, 3 x m
    const Eigen::Vector3d omega0 = ww.solve(gradient_.head<3>());
    reduced_.noalias() = gram_full_.bottomRightCorner(m_, m_);
    reduced_.noalias() -= gram_full_.topRightCorner(3, m_).transpose() * coupling_;
    linear_.noalias() = reduced_ * c;
    linear_ -= gradient_.tail(m_);
    linear_.noalias() += gram_full_.topRightCorner(3, m_).transpose() * omega0;
    candidate_c_ = c;
    lasso_.solve(reduced_, linear_, alpha_, candidate_c_);
    delta_.resize(n);
    delta_.tail(m_) = candidate_c_ - c;
    delta_.head<3>() = -(omega0 + coupling_ * delta_.tail(m_));
    if (!delta_.allFinite()) return current;
    candidate_c_.resize(m_);
    for (double step = 1.0; step > 1e-3; step *= 0.5) {
      const Eigen::Matrix3d candidate_R = nearest_rotation(axis_angle_to_matrix<double>(Eigen::Vector3d(step * delta_.head<3>())) * R);
      candidate_c_ = c + step * delta_.tail(m_);
      update_shape(candidate_c_);
      const Eigen::Vector2d candidate_t = best_translation(candidate_R);
      const double value = objective(candidate_R, candidate_t, candidate_c_);
      if (value < current) {
        R = candidate_R;
        t = candidate_t;
        c = candidate_c_;
        return value;
      }
    }
    update_shape(c);
    return current;
  }

  // Newton rather than Gauss-Newton: adds the residuals' curvature, sum_j w_j r_j^T d2 r_j, to gram_full_ (the
  // rotation's second-order term and its coupling with the coefficients; the residual is linear in c and t),
  // unless that makes the model lose positive definiteness (far from a minimum), when Gauss-Newton's stays.
  // The residuals are large on real detections (~20 % of the 2D extent), so Gauss-Newton only converges
  // linearly, at about half the distance per step; Newton converges in a few steps.
  void add_curvature(const Eigen::Matrix3d& R, const Eigen::VectorXd& c) {
    // r~_j = (r_j, 0); P = sum_j w_j r~_j X_j^T with X_j = R S_j. d2 r / d omega_a d omega_b sums to
    // tr(P) I - (P + P^T) / 2, and d2 r / d omega d c_k to -sum_j w_j (R B_k)_j x r~_j.
    Eigen::Matrix3d P = Eigen::Matrix3d::Zero();
    for (int j = 0; j < J_; ++j) P.topRows<2>() += in_.weights[j] * residual_.col(j) * rotated_.col(j).transpose();
    curved_ = gram_full_;
    curved_.topLeftCorner<3, 3>() += P.trace() * Eigen::Matrix3d::Identity() - 0.5 * (P + P.transpose());
    for (int a = 0; a < m_; ++a) {
      // Only for the bases in use: the smooth part's curvature need not be positive along a coefficient
      // that the l1 term holds at zero.
      if (c[a] == 0) continue;
      Eigen::Map<const Eigen::Matrix2Xd> xy(projected_.col(a).data(), 2, J_);  // rows x, y of R B_a
      const auto B = bases_.middleRows<3>(3 * a);
      Eigen::Vector3d v = Eigen::Vector3d::Zero();
      for (int j = 0; j < J_; ++j) {
        const double w = in_.weights[j];
        if (w == 0) continue;
        const double z = R.row(2).dot(B.col(j));
        const double rx = residual_(0, j), ry = residual_(1, j);
        v += w * Eigen::Vector3d(-z * ry, z * rx, xy(0, j) * ry - xy(1, j) * rx);
      }
      curved_.block<3, 1>(0, 3 + a) -= v;
      curved_.block<1, 3>(3 + a, 0) -= v.transpose();
    }
    curved_.diagonal().array() += 1e-9 * (1.0 + curved_.diagonal().cwiseAbs().maxCoeff());
    if (Eigen::LLT<Eigen::MatrixXd>(curved_).info() == Eigen::Success) gram_full_ = curved_;
  }

  const Eigen::Matrix3Xd& shape() const { return shape_; }
  const std::vector<int>& active() const { return active_; }

 private:
  const NormalizedInput& in_;
  std::vector<int> active_;
  double alpha_;
  int J_, m_;
  Eigen::MatrixXd bases_;      // 3m x J
  Eigen::MatrixXd projected_;  // 2J x m: Pi R B_a per active basis
  Eigen::MatrixXd gram_;
  Eigen::VectorXd rhs_;
  Eigen::Matrix3Xd shape_, rotated_;
  Eigen::Matrix2Xd residual_;
  Eigen::MatrixXd design_, weighted_, gram_full_;  // joint step: 2J x (3 + m), and its Gram matrix
  Eigen::VectorXd gradient_, delta_, candidate_c_;
  Eigen::Matrix<double, 3, Eigen::Dynamic> coupling_;
  Eigen::MatrixXd reduced_, curved_;
  Eigen::VectorXd linear_;
  SmallLasso lasso_;
};

// The convex relaxation's solution: M_k^T stacked (3K x 2, one column per image axis), the spectral norm of
// each M_k, and the iterations and objectives of the ADMM.
struct Relaxation {
  Eigen::Matrix<double, Eigen::Dynamic, 2, Eigen::RowMajor> M;
  Eigen::VectorXd spectral;
  int iterations = 0;
  double initial_objective = 0.0, objective = 0.0;
};

// Over-relaxation of the ADMM (Boyd et al., 3.4.3): the prox and the dual update see
// r Z + (1 - r) M_previous instead of Z. 1.8 needs about a fifth fewer iterations than 1 to the same tolerance
// and reaches the same optima after the refinement.
constexpr double kOverRelaxation = 1.8;

// min_M 1/2 ||(W - sum_k M_k B_k) E||^2 + alpha sum_k ||M_k||_2, where E = H D folds in the weights
// (D = diag(sqrt(w))) and the optimal translation (H = I - w 1^T / sum w removes the weighted mean), so the
// problem has no explicit translation.
// ADMM on M = Z:  Z <- (W E BE^T + mu M + Y)(BE BE^T + mu I)^-1,  M_k <- prox(Z_k - Y_k / mu),
// Y <- Y + mu (M - Z),  with BE = B E (3K x J). The 3K x 3K inverse is applied through the Woodbury
// identity with a J x J matrix, so an iteration costs two 2 x 3K x J products; everything else of an
// iteration is one pass over the bases. The two products are in single precision (twice as many lanes per
// SIMD instruction): their relative error, ~1e-7, is far below the ADMM's tolerance, and the H36M S9
// evaluation is unchanged to 0.03 mm.
Relaxation solve_relaxation(const Eigen::MatrixXd& bases, const Eigen::MatrixXd& basis_gram, const NormalizedInput& in,
                            double alpha, const SparseLiftOptions& options) {
  const int J = int(in.points.cols());
  const int K = int(bases.rows() / 3);
  const Eigen::Index rows = bases.rows();
  const double total = in.weights.sum();
  const Eigen::VectorXd sqrt_w = in.weights.cwiseSqrt();
  // E(i, j) = (delta_ij - w_i / sum w) sqrt(w_j).
  Eigen::MatrixXd E = -(in.weights / total) * sqrt_w.transpose();
  E.diagonal() += sqrt_w;
  // BE^T (J x 3K), column i the i-th row of B E: (B(i, :) - its weighted mean) * sqrt(w), in O(K J).
  const Eigen::VectorXd mean = bases * in.weights / total;
  const Eigen::MatrixXd BEt = ((bases.colwise() - mean) * sqrt_w.asDiagonal()).transpose();
  const Eigen::MatrixXf BEt_f = BEt.cast<float>();
  const Eigen::MatrixXd BEgram = E.transpose() * basis_gram * E;  // J x J
  const Eigen::Matrix2Xd WE = in.points * E;                       // 2 x J
  using Stacked = Eigen::Matrix<double, Eigen::Dynamic, 2>;
  // The iterates are stored transposed (3K x 2) so that the two large products of an iteration are
  // matrix-vector products over contiguous columns, which is what these sizes need.
  Stacked WB(rows, 2);  // (W E BE^T)^T
  for (int axis = 0; axis < 2; ++axis) WB.col(axis).noalias() = BEt.transpose() * WE.row(axis).transpose();
  Stacked M = Stacked::Zero(rows, 2), Z = M, Y = M, Q(rows, 2), D(rows, 2);
  Eigen::Matrix<double, Eigen::Dynamic, 2> U(J, 2);
  Eigen::Matrix<float, Eigen::Dynamic, 2> Q_f(rows, 2), D_f(rows, 2), T_f(J, 2), U_f(J, 2);
  Eigen::VectorXd spectral(K);
  double mu = 1.0 / std::max(WE.cwiseAbs().mean(), 1e-12);
  // (BE^T BE + mu I)^-1, J x J, recomputed when mu changes.
  Eigen::MatrixXd woodbury(J, J);
  auto factor = [&] {
    woodbury = (BEgram + mu * Eigen::MatrixXd::Identity(J, J)).ldlt().solve(Eigen::MatrixXd::Identity(J, J));
  };
  factor();
  int iterations = 0;
  for (; iterations < options.max_admm_iterations;) {
    ++iterations;
    Q = WB + mu * M + Y;
    Q_f = Q.cast<float>();
    for (int axis = 0; axis < 2; ++axis) T_f.col(axis).noalias() = BEt_f * Q_f.col(axis);
    U.noalias() = woodbury * T_f.cast<double>();
    U_f = U.cast<float>();
    for (int axis = 0; axis < 2; ++axis) D_f.col(axis).noalias() = BEt_f.transpose() * U_f.col(axis);
    D = D_f.cast<double>();
    // Z = (Q - BE U) / mu, then the prox of each block, the dual update and the residuals' norms in one pass.
    const double inv_mu = 1.0 / mu, tau = alpha / mu;
    double z_prev2 = 0, z2 = 0, primal2 = 0, dz2 = 0;
    for (int k = 0; k < K; ++k) {
      Eigen::Matrix<double, 2, 3> relaxed, shifted, block;
      for (int r = 0; r < 3; ++r) {
        const Eigen::Index i = 3 * k + r;
        for (int axis = 0; axis < 2; ++axis) {
          const double z = (Q(i, axis) - D(i, axis)) * inv_mu;
          const double old = Z(i, axis);
          z_prev2 += old * old;
          z2 += z * z;
          dz2 += (z - old) * (z - old);
          Z(i, axis) = z;
          relaxed(axis, r) = kOverRelaxation * z + (1 - kOverRelaxation) * M(i, axis);
          shifted(axis, r) = relaxed(axis, r) - Y(i, axis) * inv_mu;
        }
      }
      spectral[k] = prox_spectral_norm(shifted, tau, block);
      for (int r = 0; r < 3; ++r) {
        const Eigen::Index i = 3 * k + r;
        for (int axis = 0; axis < 2; ++axis) {
          const double m = block(axis, r);
          M(i, axis) = m;
          Y(i, axis) += mu * (m - relaxed(axis, r));
          primal2 += (m - Z(i, axis)) * (m - Z(i, axis));
        }
      }
    }
    const double norm = std::max({std::sqrt(z_prev2), std::sqrt(z2), 1e-12});
    const double primal = std::sqrt(primal2) / norm;
    const double dual = mu * std::sqrt(dz2) / norm;
    if (primal < options.admm_tolerance && dual < options.admm_tolerance) break;
    // Balance the two residuals (Boyd et al., 3.4.1); the Woodbury factor depends on mu.
    const double previous_mu = mu;
    if (primal > 10 * dual) mu *= 2;
    if (dual > 10 * primal) mu /= 2;
    if (mu != previous_mu) factor();
  }
  Relaxation out;
  out.M = M;
  out.spectral = spectral;
  out.iterations = iterations;
  out.initial_objective = 0.5 * WE.squaredNorm();
  Eigen::Matrix2Xd residual = WE;
  residual.noalias() -= M.transpose() * BEt.transpose();
  out.objective = 0.5 * residual.squaredNorm() + alpha * spectral.sum();
  return out;
}

}  // namespace

SparsePoseSolver::SparsePoseSolver(const PoseDictionary& dictionary, SparseLiftOptions options)
    : dictionary_(&dictionary), options_(options) {
  if (dictionary.size() < 1 || dictionary.bases.rows() != 3 * dictionary.size())
    throw Error("pose dictionary: no bases");
  if (!dictionary.bases.allFinite()) throw Error("pose dictionary: non-finite values in the bases");
  if (!(options.alpha >= 0) || options.max_admm_iterations < 1 || !(options.admm_tolerance > 0))
    throw Error("lift: invalid solver options (alpha >= 0, iterations >= 1, tolerance > 0)");
  basis_gram_ = dictionary.bases.transpose() * dictionary.bases;
}

SparsePose SparsePoseSolver::solve(const Eigen::Matrix2Xd& points, const Eigen::VectorXd& weights) const {
  const PoseDictionary& dict = *dictionary_;
  const int J = dict.joint_count();
  const int K = dict.size();
  if (points.cols() != J)
    throw Error("lift: " + std::to_string(points.cols()) + " points for a dictionary of " + std::to_string(J) +
                " joints");
  const NormalizedInput in = normalize_input(points, weights);
  const double alpha = options_.alpha;

  // --- Convex relaxation:  min_M 1/2 ||(W - sum_k M_k B_k) E||^2 + alpha sum_k ||M_k||_2.
  const Relaxation relaxation = solve_relaxation(dict.bases, basis_gram_, in, alpha, options_);
  const Eigen::VectorXd& spectral = relaxation.spectral;
  auto M_block = [&](int k) -> Eigen::Matrix<double, 2, 3> {
    return relaxation.M.middleRows<3>(3 * k).transpose();
  };

  SparsePose pose;
  pose.admm_iterations = relaxation.iterations;
  pose.initial_objective = relaxation.initial_objective;
  pose.convex_objective = relaxation.objective;

  // --- Starting points for the refinement, read from the relaxation: the rotation of one of the strongest
  // bases, and each coefficient as the projection of its M_k on that rotation (which restores the signs the
  // spectral norms drop; the start's own basis gets a positive coefficient, which settles weak perspective's
  // depth reflection in favour of poses built from the bases rather than from their negatives).
  std::vector<int> active;
  for (int k = 0; k < K; ++k)
    if (spectral[k] > 0) active.push_back(k);
  std::vector<int> starts = active;
  std::sort(starts.begin(), starts.end(), [&](int a, int b) { return spectral[a] > spectral[b]; });
  starts.resize(std::min<std::size_t>(starts.size(), std::size_t(std::max(1, options_.refine_starts))));
  if (active.empty()) {
    // alpha is so large that the relaxation chose no basis: refine the first basis from the identity.
    active.push_back(0);
    starts.push_back(-1);
  }
  // --- Refinement: alternate translation, rotation (on SO(3)) and coefficients, with joint proximal
  // Gauss-Newton steps; each step lowers the objective, so the loop stops when it no longer moves.
  int refine_iterations = 0;
  auto run_refinement = [&](Refinement& refine, Eigen::Matrix3d& R, Eigen::Vector2d& t, Eigen::VectorXd& c,
                            double value) {
    Eigen::VectorXd c_before(c.size());
    for (int it = 0; options_.refine && it < options_.max_refine_iterations; ++it) {
      ++refine_iterations;
      const double before = value;
      t = refine.best_translation(R);
      value = refine.objective(R, t, c);
      // A joint step in (R, c); where it cannot help, one round of plain alternation.
      const double joint = refine.joint_step(R, t, c, value);
      if (joint < value) {
        value = joint;
      } else {
        value = refine.rotation_step(R, t, c, value);
        c_before = c;
        refine.coefficient_step(R, t, c);
        const double after_c = refine.objective(R, t, c);
        if (after_c <= value) {
          value = after_c;
        } else {  // round-off: keep the better coefficients
          c = c_before;
          refine.update_shape(c);
        }
      }
      if (before - value <= options_.refine_tolerance * std::max(before, 1e-12)) break;
    }
    return value;
  };

  struct State {
    Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
    Eigen::Vector2d t = Eigen::Vector2d::Zero();
    Eigen::VectorXd c;  // over `active`
    double value = std::numeric_limits<double>::infinity();
  } best;
  {
    Refinement refine(dict, in, active, alpha);
    const int m = int(active.size());
    for (std::size_t s = 0; s < starts.size(); ++s) {
      State state;
      state.c = Eigen::VectorXd::Zero(m);
      if (starts[s] >= 0) {
        const Eigen::Matrix<double, 2, 3> rows = nearest_orthonormal_rows(M_block(starts[s]));
        state.R = complete_rotation(rows);
        for (int a = 0; a < m; ++a) state.c[a] = 0.5 * (M_block(active[a]).cwiseProduct(rows)).sum();
      }
      refine.update_shape(state.c);
      state.t = refine.best_translation(state.R);
      state.value = refine.objective(state.R, state.t, state.c);
      if (s == 0) pose.objective_after_convex = state.value;
      state.value = run_refinement(refine, state.R, state.t, state.c, state.value);
      if (state.value < best.value) best = state;
    }
  }

  // --- Working set: the relaxation may have missed bases the refined rotation needs. Bases whose gradient
  // exceeds alpha (violating the lasso's optimality conditions at c_k = 0) join, and the refinement goes on.
  Eigen::Matrix3Xd shape = Eigen::Matrix3Xd::Zero(3, J);
  for (int round = 0; options_.refine && round < 4; ++round) {
    shape.setZero();
    for (std::size_t a = 0; a < active.size(); ++a) shape += best.c[a] * dict.basis(active[a]);
    Eigen::Matrix2Xd residual = in.points - best.R.topRows<2>() * shape;
    residual.colwise() -= best.t;
    const Eigen::Matrix3Xd pulled = best.R.topRows<2>().transpose() * (residual * in.weights.asDiagonal());
    std::vector<std::pair<double, int>> violators;
    for (int k = 0; k < K; ++k) {
      if (std::find(active.begin(), active.end(), k) != active.end()) continue;
      const double gradient = std::abs((dict.basis(k).cwiseProduct(pulled)).sum());
      if (gradient > alpha * (1 + 1e-6) + 1e-12) violators.emplace_back(gradient, k);
    }
    if (violators.empty()) break;
    std::sort(violators.rbegin(), violators.rend());
    violators.resize(std::min<std::size_t>(violators.size(), 5));
    for (auto [g, k] : violators) active.push_back(k);
    best.c.conservativeResize(Eigen::Index(active.size()));
    best.c.tail(Eigen::Index(violators.size())).setZero();
    Refinement refine(dict, in, active, alpha);
    refine.update_shape(best.c);
    best.value = run_refinement(refine, best.R, best.t, best.c, best.value);
  }

  // (R, c) and (Rz(pi) R, -c) project identically and mirror the pose in depth: keep the one whose strongest
  // coefficient is positive, so that ties between starts are settled the same way every time.
  const int m = int(active.size());
  {
    int strongest = 0;
    best.c.cwiseAbs().maxCoeff(&strongest);
    if (best.c[strongest] < 0) {
      best.c = -best.c;
      best.R = Eigen::Vector3d(-1, -1, 1).asDiagonal() * best.R;
    }
  }
  Refinement refine(dict, in, active, alpha);
  refine.update_shape(best.c);
  const Eigen::Matrix3d& R = best.R;
  const Eigen::Vector2d& t = best.t;
  const Eigen::VectorXd& best_c = best.c;
  pose.refine_iterations = refine_iterations;
  pose.objective = best.value;

  pose.coefficients = Eigen::VectorXd::Zero(K);
  for (int a = 0; a < m; ++a) pose.coefficients[active[a]] = best_c[a];
  pose.rotation = R;
  // Back to input units: the centroid of the shape projects to centroid + scale * t.
  pose.shape = refine.shape() * in.scale;
  pose.joints = R * pose.shape;
  pose.coefficients *= in.scale;
  pose.translation = in.centroid + in.scale * t;
  Eigen::Matrix2Xd residual = in.points - (R.topRows<2>() * refine.shape());
  residual.colwise() -= t;
  pose.reprojection_rms = in.scale * std::sqrt(residual.colwise().squaredNorm().dot(in.weights) / in.weights.sum());
  if (!pose.joints.allFinite() || !std::isfinite(pose.objective))
    throw Error("lift: the solver did not converge to a finite pose");
  return pose;
}

}  // namespace monobody
