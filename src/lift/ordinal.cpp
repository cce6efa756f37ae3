#include "monobody/ordinal.hpp"

#include <ceres/ceres.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <regex>
#include <sstream>

#include "monobody/error.hpp"
#include "monobody/files.hpp"

namespace monobody {
namespace {

using Order = OrdinalRelation::Order;

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// Residuals of the refinement, each a small autodiff functor.
struct PriorCost {
  Eigen::Vector3d target;
  double inv_sigma;
  template <typename T>
  bool operator()(const T* x, T* r) const {
    for (int d = 0; d < 3; ++d) r[d] = (x[d] - T(target[d])) * T(inv_sigma);
    return true;
  }
};

struct ReprojectionCost {
  PinholeCamera<double> camera;
  Eigen::Vector2d pixel;
  double weight;
  template <typename T>
  bool operator()(const T* x, T* r) const {
    const Eigen::Matrix<T, 2, 1> p = camera.cast<T>().project(Eigen::Matrix<T, 3, 1>(x[0], x[1], x[2]));
    r[0] = (p[0] - T(pixel[0])) * T(weight);
    r[1] = (p[1] - T(pixel[1])) * T(weight);
    return true;
  }
};

struct BoneCost {
  double length, inv_sigma;
  template <typename T>
  bool operator()(const T* a, const T* b, T* r) const {
    using std::sqrt;
    const T dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    r[0] = (sqrt(dx * dx + dy * dy + dz * dz + T(1e-12)) - T(length)) * T(inv_sigma);
    return true;
  }
};

// Squared hinge on the depth gap: zero once the relation holds with its margin.
struct RelationCost {
  Order order;
  double margin, tolerance, weight;
  template <typename T>
  bool operator()(const T* a, const T* b, T* r) const {
    const T gap = a[2] - b[2];
    T violation(0);
    if (order == Order::Farther && gap < T(margin)) violation = T(margin) - gap;
    if (order == Order::Nearer && -gap < T(margin)) violation = T(margin) + gap;
    if (order == Order::Equal) {
      if (gap > T(tolerance)) violation = gap - T(tolerance);
      if (gap < T(-tolerance)) violation = T(-tolerance) - gap;
    }
    r[0] = violation * T(weight);
    return true;
  }
};

}  // namespace

std::vector<OrdinalRelation> parse_ordinal_relations(std::string_view text, JointSet joint_set) {
  static const std::regex line_re(R"(^Z\s*\(\s*([^()]+?)\s*\)\s*(>|<|=)\s*Z\s*\(\s*([^()]+?)\s*\)$)",
                                  std::regex::icase);
  std::vector<OrdinalRelation> out;
  std::istringstream in{std::string(text)};
  std::string raw;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    std::smatch m;
    if (!std::regex_match(line, m, line_re))
      throw Error("relation line " + std::to_string(number) + ": expected 'Z(joint) > Z(joint)' (or <, =), got '" +
                  line + "'");
    OrdinalRelation r;
    try {
      r.a = joint_index(joint_set, m[1].str());
      r.b = joint_index(joint_set, m[3].str());
    } catch (const Error& e) {
      throw Error("relation line " + std::to_string(number) + ": " + e.what());
    }
    if (r.a == r.b) throw Error("relation line " + std::to_string(number) + ": a joint is related to itself");
    const char op = m[2].str()[0];
    r.order = op == '>' ? Order::Farther : op == '<' ? Order::Nearer : Order::Equal;
    out.push_back(r);
  }
  return out;
}

std::vector<OrdinalRelation> read_ordinal_relations(const std::filesystem::path& path, JointSet joint_set) {
  try {
    const std::string text = read_text_file(path);
    // A binary file (a picture given by mistake) is named as such, not echoed line by line.
    if (std::any_of(text.begin(), text.end(), [](char c) { return c == '\0' || (static_cast<unsigned char>(c) < 0x20 && !std::isspace(static_cast<unsigned char>(c))); }))
      throw Error("not a text file of relations");
    return parse_ordinal_relations(text, joint_set);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

std::string format_ordinal_relation(const OrdinalRelation& r, JointSet joint_set) {
  auto name = [&](int j) {
    std::string n(skeleton(joint_set).joints.at(std::size_t(j)));
    for (char& c : n)
      if (c == '_') c = ' ';
    return n;
  };
  const char* op = r.order == Order::Farther ? " > " : r.order == Order::Nearer ? " < " : " = ";
  return "Z(" + name(r.a) + ")" + op + "Z(" + name(r.b) + ")";
}

Order ordinal_order(double za, double zb, double tolerance) {
  if (std::abs(za - zb) <= tolerance) return Order::Equal;
  return za > zb ? Order::Farther : Order::Nearer;
}

double ordinal_accuracy(const Eigen::Matrix3Xd& estimate, const Eigen::Matrix3Xd& truth, double tolerance) {
  if (estimate.cols() != truth.cols()) throw Error("ordinal accuracy: joint counts differ");
  long pairs = 0, right = 0;
  for (int a = 0; a < truth.cols(); ++a) {
    for (int b = a + 1; b < truth.cols(); ++b) {
      if (!estimate.col(a).allFinite() || !estimate.col(b).allFinite()) continue;
      ++pairs;
      right += ordinal_order(estimate(2, a), estimate(2, b), tolerance) == ordinal_order(truth(2, a), truth(2, b), tolerance);
    }
  }
  return pairs ? double(right) / double(pairs) : 0.0;
}

double relations_satisfied(const Eigen::Matrix3Xd& joints, const std::vector<OrdinalRelation>& relations,
                           double tolerance) {
  if (relations.empty()) return 1.0;
  long ok = 0;
  for (const auto& r : relations) {
    const double gap = joints(2, r.a) - joints(2, r.b);
    switch (r.order) {
      case OrdinalRelation::Order::Farther: ok += gap > 0; break;
      case OrdinalRelation::Order::Nearer: ok += gap < 0; break;
      case OrdinalRelation::Order::Equal: ok += std::abs(gap) <= tolerance; break;
    }
  }
  return double(ok) / double(relations.size());
}

std::vector<OrdinalRelation> simulate_relations(const Eigen::Matrix3Xd& joints, int count, double tolerance,
                                                std::mt19937& rng) {
  const int n = int(joints.cols());
  std::vector<OrdinalRelation> relations;
  if (n < 2) return relations;
  relations.reserve(std::size_t(std::max(count, 0)));
  for (int k = 0; k < count; ++k) {
    const int a = int(rng() % unsigned(n));
    int b = int(rng() % unsigned(n - 1));
    if (b >= a) ++b;
    relations.push_back({a, b, ordinal_order(joints(2, a), joints(2, b), tolerance)});
  }
  return relations;
}

Eigen::Vector3d place_in_camera(const Eigen::Matrix3Xd& X, const Keypoints2D& kp, const PinholeCamera<double>& camera) {
  // x_n (Z_j + Tz) = X_j + Tx and y_n (Z_j + Tz) = Y_j + Ty, for each valid joint: linear in T.
  Eigen::MatrixXd A(2 * X.cols(), 3);
  Eigen::VectorXd b(2 * X.cols());
  int rows = 0;
  for (int j = 0; j < X.cols(); ++j) {
    if (!kp.valid(j) || !X.col(j).allFinite()) continue;
    const Eigen::Vector2d n = camera.normalized(kp.xy.col(j));
    const double w = std::sqrt(kp.confidence[j]);
    A.row(rows) << w, 0, -w * n.x();
    b[rows++] = w * (n.x() * X(2, j) - X(0, j));
    A.row(rows) << 0, w, -w * n.y();
    b[rows++] = w * (n.y() * X(2, j) - X(1, j));
  }
  if (rows < 4) throw Error("cannot place the person: fewer than two joints are visible");
  const Eigen::Vector3d T = A.topRows(rows).colPivHouseholderQr().solve(b.head(rows));
  if (!T.allFinite() || T.z() <= 0) throw Error("cannot place the person in front of the camera");
  return T;
}

namespace {

// One local refinement from `X` (absolute camera-frame joints); returns the final cost.
double solve_refinement(Eigen::Matrix3Xd& X, const Eigen::Matrix3Xd& anchor, const Eigen::VectorXd& bone_lengths,
                        const Keypoints2D& keypoints, const PinholeCamera<double>& camera,
                        const std::vector<OrdinalRelation>& relations, const OrdinalRefineOptions& o) {
  const auto& bones = skeleton(keypoints.joint_set).bones;
  ceres::Problem problem;
  for (int j = 0; j < X.cols(); ++j) {
    problem.AddResidualBlock(
        new ceres::AutoDiffCostFunction<PriorCost, 3, 3>(new PriorCost{anchor.col(j), 1.0 / o.prior_sigma}), nullptr,
        X.col(j).data());
    if (keypoints.valid(j))
      problem.AddResidualBlock(
          new ceres::AutoDiffCostFunction<ReprojectionCost, 2, 3>(
              new ReprojectionCost{camera, keypoints.xy.col(j), std::sqrt(keypoints.confidence[j]) / o.pixel_sigma}),
          new ceres::HuberLoss(3.0), X.col(j).data());
  }
  for (std::size_t k = 0; k < bones.size(); ++k)
    problem.AddResidualBlock(
        new ceres::AutoDiffCostFunction<BoneCost, 1, 3, 3>(new BoneCost{bone_lengths[Eigen::Index(k)], 1.0 / 0.01}),
        nullptr, X.col(bones[k].first).data(), X.col(bones[k].second).data());
  for (const auto& r : relations)
    problem.AddResidualBlock(new ceres::AutoDiffCostFunction<RelationCost, 1, 3, 3>(new RelationCost{
                                 r.order, o.margin, o.equal_tolerance, std::sqrt(o.relation_weight) / o.margin}),
                             nullptr, X.col(r.a).data(), X.col(r.b).data());
  ceres::Solver::Options options;
  options.max_num_iterations = o.max_iterations;
  options.linear_solver_type = ceres::DENSE_QR;
  options.num_threads = 1;
  options.logging_type = ceres::SILENT;
  ceres::Solver::Summary summary;
  ceres::Solve(options, &problem, &summary);
  return X.allFinite() ? summary.final_cost : std::numeric_limits<double>::infinity();
}

// The other solution of a single view's depth ambiguity for joint j: the point on j's viewing ray at the
// same distance from its parent, on the other side. Descendants move with it. False if there is none.
bool flip_joint_depth(Eigen::Matrix3Xd& X, int j, JointSet set) {
  const auto& parents = skeleton(set).parents;
  const int p = parents[std::size_t(j)];
  if (p < 0) return false;
  const Eigen::Vector3d ray = X.col(j).normalized();
  const double length = (X.col(j) - X.col(p)).norm();
  const double rp = ray.dot(X.col(p));
  const double disc = rp * rp - X.col(p).squaredNorm() + length * length;
  if (disc <= 0) return false;
  const double t_now = X.col(j).norm();
  const double t1 = rp + std::sqrt(disc), t2 = rp - std::sqrt(disc);
  const double t_other = std::abs(t1 - t_now) > std::abs(t2 - t_now) ? t1 : t2;
  if (t_other <= 0) return false;
  const Eigen::Vector3d delta = ray * t_other - X.col(j);
  for (int k = 0; k < X.cols(); ++k) {
    for (int a = k; a >= 0; a = parents[std::size_t(a)]) {
      if (a == j) {
        X.col(k) += delta;
        break;
      }
    }
  }
  return true;
}

}  // namespace

Eigen::Matrix3Xd refine_with_relations(const Eigen::Matrix3Xd& root_relative, const Keypoints2D& keypoints,
                                       const PinholeCamera<double>& camera,
                                       const std::vector<OrdinalRelation>& relations,
                                       const OrdinalRefineOptions& o) {
  const int n = int(root_relative.cols());
  if (keypoints.size() != n) throw Error("refine: keypoints and joints differ in number");
  for (const auto& r : relations)
    if (r.a < 0 || r.a >= n || r.b < 0 || r.b >= n) throw Error("refine: relation refers to a joint out of range");
  if (relations.empty()) return root_relative;
  const Eigen::Vector3d T = place_in_camera(root_relative, keypoints, camera);
  const Eigen::Matrix3Xd start = root_relative.colwise() + T;
  // The relations speak of depth only. So what the refinement keeps is where the lifted joints appear in the
  // image, not the raw keypoints: pulling every joint onto noisy detections would undo what the lifter already
  // corrected (measured on S9 with Stacked-Hourglass input: P1 75.3 -> 84.2 mm with 10 relations when pulled
  // onto the detections).
  Keypoints2D image_of_lift = keypoints;
  for (int j = 0; j < n; ++j)
    if (keypoints.valid(j)) image_of_lift.xy.col(j) = camera.project(Eigen::Vector3d(start.col(j)));
  const auto& bones = skeleton(keypoints.joint_set).bones;
  Eigen::VectorXd lengths(Eigen::Index(bones.size()));
  for (std::size_t k = 0; k < bones.size(); ++k)
    lengths[Eigen::Index(k)] = (start.col(bones[k].first) - start.col(bones[k].second)).norm();

  // A violated relation often means a limb's depth is the mirror of the truth, which a local solver cannot
  // cross (bone lengths hold it in place). So the refinement also starts from each involved joint flipped to
  // its other depth solution, and keeps the best result.
  std::vector<Eigen::Matrix3Xd> starts = {start};
  for (const auto& r : relations) {
    if (ordinal_order(start(2, r.a), start(2, r.b), o.equal_tolerance) == r.order) continue;
    for (int j : {r.a, r.b}) {
      Eigen::Matrix3Xd flipped = start;
      if (flip_joint_depth(flipped, j, keypoints.joint_set)) starts.push_back(std::move(flipped));
    }
  }
  Eigen::Matrix3Xd best = start;
  double best_cost = std::numeric_limits<double>::infinity();
  for (Eigen::Matrix3Xd& X : starts) {
    // Each start is its own anchor: flipping a limb to its other depth solution keeps the 2D and the bone
    // lengths, so it costs nothing in itself; what counts is how much more must move to satisfy the relations.
    const Eigen::Matrix3Xd anchor = X;
    const double cost = solve_refinement(X, anchor, lengths, image_of_lift, camera, relations, o);
    if (cost < best_cost) {
      best_cost = cost;
      best = X;
    }
  }
  if (!std::isfinite(best_cost)) return root_relative;
  return best.colwise() - best.col(0);
}

}  // namespace monobody
