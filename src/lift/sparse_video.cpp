// The sparse solver for video: the frames of one person solved jointly with temporal smoothness on the
// coefficients and the rotation (lift.hpp, SparseVideoOptions), starting from the single-frame solutions.
#include <Eigen/Cholesky>
#include <array>
#include <cmath>
#include <limits>

#include "monobody/error.hpp"
#include "monobody/lift.hpp"
#include "monobody/rotation.hpp"
#include "sparse_internal.hpp"

namespace monobody {
namespace {

// One frame's unknowns in its own normalised units (sparse_internal.hpp).
struct Frame {
  detail::NormalizedInput in;
  Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
  Eigen::Vector2d t = Eigen::Vector2d::Zero();
  Eigen::VectorXd c;  // all K coefficients
  SparsePose pose;    // the single-frame solution
};

class SequenceProblem {
 public:
  SequenceProblem(const PoseDictionary& dictionary, double alpha, const SparseVideoOptions& video)
      : dict_(dictionary), alpha_(alpha), video_(video), J_(dictionary.joint_count()) {}

  Eigen::Matrix3Xd shape(const Eigen::VectorXd& c) const {
    Eigen::Matrix3Xd S = Eigen::Matrix3Xd::Zero(3, J_);
    for (int k = 0; k < c.size(); ++k)
      if (c[k] != 0) S += c[k] * dict_.basis(k);
    return S;
  }

  double data_term(const Frame& f, const Eigen::Matrix3d& R, const Eigen::Vector2d& t, const Eigen::Matrix3Xd& S) const {
    Eigen::Matrix2Xd r = f.in.points - R.topRows<2>() * S;
    r.colwise() -= t;
    return 0.5 * r.colwise().squaredNorm().dot(f.in.weights);
  }

  double rotation_term(const Eigen::Matrix3d& R, const std::vector<const Frame*>& neighbours) const {
    double sum = 0;
    for (const Frame* n : neighbours)
      sum += matrix_to_axis_angle<double>(Eigen::Matrix3d(R * n->R.transpose())).squaredNorm();
    return 0.5 * video_.rotation_smoothness * sum;
  }

  // One block step on frame f with its neighbours held: translation, rotation (Gauss-Newton on SO(3) with
  // backtracking), coefficients (a lasso with the temporal pull, by coordinate descent over the bases that
  // f or a neighbour uses), translation again.
  void update(Frame& f, const std::vector<const Frame*>& neighbours) {
    Eigen::Matrix3Xd S = shape(f.c);
    f.t = best_translation(f, f.R, S);

    // Rotation.
    const Eigen::Matrix3Xd X = f.R * S;
    Eigen::Matrix3d H = Eigen::Matrix3d::Zero();
    Eigen::Vector3d g = Eigen::Vector3d::Zero();
    for (int j = 0; j < J_; ++j) {
      const double w = f.in.weights[j];
      if (w == 0) continue;
      Eigen::Matrix<double, 2, 3> A;
      A << 0, -X(2, j), X(1, j), X(2, j), 0, -X(0, j);
      const Eigen::Vector2d r = f.in.points.col(j) - X.col(j).head<2>() - f.t;
      H.noalias() += w * A.transpose() * A;
      g.noalias() += w * A.transpose() * r;
    }
    for (const Frame* n : neighbours) {
      H.diagonal().array() += video_.rotation_smoothness;
      g += video_.rotation_smoothness * matrix_to_axis_angle<double>(Eigen::Matrix3d(f.R * n->R.transpose()));
    }
    H.diagonal().array() += 1e-9 * (1.0 + H.diagonal().maxCoeff());
    Eigen::Vector3d omega = -H.ldlt().solve(g);
    const double current = data_term(f, f.R, f.t, S) + rotation_term(f.R, neighbours);
    for (int tries = 0; tries < 8 && omega.allFinite(); ++tries, omega *= 0.5) {
      const Eigen::Matrix3d candidate = nearest_rotation(axis_angle_to_matrix<double>(omega) * f.R);
      if (data_term(f, candidate, f.t, S) + rotation_term(candidate, neighbours) < current) {
        f.R = candidate;
        break;
      }
    }

    // Coefficients over the bases in use around f.
    active_.clear();
    for (int k = 0; k < f.c.size(); ++k) {
      bool used = f.c[k] != 0;
      for (const Frame* n : neighbours) used = used || n->c[k] != 0;
      if (used) active_.push_back(k);
    }
    const int m = int(active_.size());
    projected_.resize(2 * J_, m);
    for (int a = 0; a < m; ++a)
      Eigen::Map<Eigen::Matrix2Xd>(projected_.col(a).data(), 2, J_) = f.R.topRows<2>() * dict_.basis(active_[a]);
    Eigen::Matrix2Xd target = f.in.points;
    target.colwise() -= f.t;
    weighted_ = projected_;
    for (int j = 0; j < J_; ++j) weighted_.middleRows<2>(2 * j) *= f.in.weights[j];
    gram_.noalias() = weighted_.transpose() * projected_;
    rhs_.noalias() = weighted_.transpose() * Eigen::Map<const Eigen::VectorXd>(target.data(), 2 * J_);
    const double pull = video_.coefficient_smoothness * double(neighbours.size());
    for (int a = 0; a < m; ++a) {
      gram_(a, a) += pull;
      for (const Frame* n : neighbours) rhs_[a] += video_.coefficient_smoothness * n->c[active_[a]];
    }
    coefficients_.resize(m);
    for (int a = 0; a < m; ++a) coefficients_[a] = f.c[active_[a]];
    for (int sweep = 0; sweep < 50; ++sweep) {
      double change = 0;
      for (int a = 0; a < m; ++a) {
        const double diag = gram_(a, a);
        if (diag <= 1e-12) continue;
        const double z = rhs_[a] - gram_.row(a).dot(coefficients_) + diag * coefficients_[a];
        const double updated = std::copysign(std::max(std::abs(z) - alpha_, 0.0), z) / diag;
        change = std::max(change, std::abs(updated - coefficients_[a]));
        coefficients_[a] = updated;
      }
      if (change < 1e-10 * (1.0 + coefficients_.lpNorm<Eigen::Infinity>())) break;
    }
    f.c.setZero();
    for (int a = 0; a < m; ++a) f.c[active_[a]] = coefficients_[a];
    f.t = best_translation(f, f.R, shape(f.c));
  }

 private:
  Eigen::Vector2d best_translation(const Frame& f, const Eigen::Matrix3d& R, const Eigen::Matrix3Xd& S) const {
    const Eigen::Matrix2Xd r = f.in.points - R.topRows<2>() * S;
    return r * f.in.weights / f.in.weights.sum();
  }

  const PoseDictionary& dict_;
  double alpha_;
  SparseVideoOptions video_;
  int J_;
  std::vector<int> active_;
  Eigen::MatrixXd projected_, weighted_, gram_;
  Eigen::VectorXd rhs_, coefficients_;
};

// Weak perspective cannot tell a pose from its mirror image in depth, and single frames settle it each on
// their own. Along a run of frames, choose each frame's reflection so consecutive shapes agree (Viterbi over
// the two choices). Each frame's own choice (the bases' native orientation) is a vote worth about a quarter of
// a reflection switch between unit shapes, so a run follows the majority of its frames (on S1: P2 92.6 -> 92.4
// mm; with a negligible vote the runs often settled on the mirror image: 94.9).
void make_reflections_consistent(std::vector<Frame*>& run, const SequenceProblem& problem) {
  const std::size_t T = run.size();
  if (T < 2) return;
  std::vector<std::array<Eigen::Matrix3Xd, 2>> shapes(T);
  for (std::size_t t = 0; t < T; ++t) {
    Eigen::Matrix3Xd X = run[t]->R * problem.shape(run[t]->c);
    const double norm = X.norm();
    if (norm > 0) X /= norm;
    shapes[t][0] = X;
    X.row(2) *= -1.0;
    shapes[t][1] = X;
  }
  constexpr double kKeepOwn = 0.1;
  std::vector<std::array<double, 2>> cost(T);
  std::vector<std::array<int, 2>> from(T);
  cost[0] = {0.0, kKeepOwn};
  for (std::size_t t = 1; t < T; ++t)
    for (int s = 0; s < 2; ++s) {
      const double a = cost[t - 1][0] + (shapes[t][s] - shapes[t - 1][0]).squaredNorm();
      const double b = cost[t - 1][1] + (shapes[t][s] - shapes[t - 1][1]).squaredNorm();
      from[t][s] = a <= b ? 0 : 1;
      cost[t][s] = std::min(a, b) + (s == 1 ? kKeepOwn : 0.0);
    }
  int s = cost[T - 1][0] <= cost[T - 1][1] ? 0 : 1;
  for (std::size_t t = T; t-- > 0;) {
    if (s == 1) {  // (R, c) -> (Rz(pi) R, -c): the same image, the depth mirrored
      run[t]->R = Eigen::Vector3d(-1, -1, 1).asDiagonal() * run[t]->R;
      run[t]->c = -run[t]->c;
    }
    if (t > 0) s = from[t][s];
  }
}

}  // namespace

std::vector<std::optional<SparsePose>> SparsePoseSolver::solve_sequence(const std::vector<Eigen::Matrix2Xd>& points,
                                                                        const std::vector<Eigen::VectorXd>& weights,
                                                                        const SparseVideoOptions& video) const {
  if (points.size() != weights.size()) throw Error("lift: points and weights differ in frame count");
  if (!(video.coefficient_smoothness >= 0) || !(video.rotation_smoothness >= 0) || video.sweeps < 0)
    throw Error("lift: invalid video options (smoothness >= 0, sweeps >= 0)");
  const int K = dictionary_->size();
  std::vector<std::optional<Frame>> frames(points.size());
  for (std::size_t t = 0; t < points.size(); ++t) {
    try {
      Frame f;
      f.pose = solve(points[t], weights[t]);
      f.in = detail::normalize_input(points[t], weights[t]);
      f.R = f.pose.rotation;
      f.c = f.pose.coefficients / f.in.scale;
      f.t = (f.pose.translation - f.in.centroid) / f.in.scale;
      frames[t] = std::move(f);
    } catch (const Error&) {
      // unusable on its own: the frame stays empty and splits the sequence
    }
  }
  SequenceProblem problem(*dictionary_, options_.alpha, video);
  // Runs of consecutive solved frames.
  std::vector<std::vector<Frame*>> runs;
  for (std::size_t t = 0; t < frames.size(); ++t) {
    if (!frames[t]) continue;
    if (t == 0 || !frames[t - 1]) runs.emplace_back();
    runs.back().push_back(&*frames[t]);
  }
  std::vector<const Frame*> neighbours;
  for (auto& run : runs) {
    make_reflections_consistent(run, problem);
    for (int sweep = 0; sweep < video.sweeps; ++sweep) {
      const bool forward = sweep % 2 == 0;  // alternate directions so neither end lags
      for (std::size_t i = 0; i < run.size(); ++i) {
        const std::size_t t = forward ? i : run.size() - 1 - i;
        neighbours.clear();
        if (t > 0) neighbours.push_back(run[t - 1]);
        if (t + 1 < run.size()) neighbours.push_back(run[t + 1]);
        problem.update(*run[t], neighbours);
      }
    }
  }

  std::vector<std::optional<SparsePose>> out(frames.size());
  for (std::size_t t = 0; t < frames.size(); ++t) {
    if (!frames[t]) continue;
    const Frame& f = *frames[t];
    SparsePose pose = f.pose;
    const Eigen::Matrix3Xd S = problem.shape(f.c);
    pose.coefficients = f.c * f.in.scale;
    pose.rotation = f.R;
    pose.shape = S * f.in.scale;
    pose.joints = f.R * pose.shape;
    pose.translation = f.in.centroid + f.in.scale * f.t;
    const double data = problem.data_term(f, f.R, f.t, S);
    pose.objective = data + options_.alpha * f.c.lpNorm<1>();
    pose.reprojection_rms = f.in.scale * std::sqrt(2.0 * data / f.in.weights.sum());
    pose.refine_iterations += video.sweeps;
    if (!pose.joints.allFinite()) continue;
    if (K != pose.coefficients.size()) continue;
    out[t] = std::move(pose);
  }
  return out;
}

}  // namespace monobody
