// Fitting the body model to keypoints, lifted 3D joints and a silhouette with Ceres (autodiff).
//
// Every model point the fit uses (joints, landmarks, sampled vertices) is a "skinned point": a rest position
// linear in the shape coefficients and a few (joint, weight) influences, so one templated function poses
// them all. One cost functor evaluates forward kinematics once for all residuals.
#include <ceres/ceres.h>
#include <ceres/cubic_interpolation.h>
#include <ceres/normal_prior.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <opencv2/imgproc.hpp>
#include <optional>

#include "monobody/body.hpp"
#include "monobody/error.hpp"
#include "monobody/render.hpp"

namespace monobody {

namespace {

// Keypoint names (of every joint set in skeleton.hpp) -> the model's joints or landmarks. Joint sets place
// some points differently from MakeHuman's joints (e.g. hips); these are the nearest counterparts.
const std::map<std::string, std::string, std::less<>> kKeypointToModel = {
    {"nose", "nose"}, {"left_eye", "left_eye"}, {"right_eye", "right_eye"}, {"left_ear", "left_ear"},
    {"right_ear", "right_ear"}, {"left_shoulder", "left_arm"}, {"right_shoulder", "right_arm"},
    {"left_elbow", "left_fore_arm"}, {"right_elbow", "right_fore_arm"}, {"left_wrist", "left_hand"},
    {"right_wrist", "right_hand"}, {"left_pinky", "left_pinky"}, {"right_pinky", "right_pinky"},
    {"left_index", "left_index"}, {"right_index", "right_index"}, {"left_thumb", "left_thumb"},
    {"right_thumb", "right_thumb"}, {"left_hip", "left_up_leg"}, {"right_hip", "right_up_leg"},
    {"left_knee", "left_leg"}, {"right_knee", "right_leg"}, {"left_ankle", "left_foot"},
    {"right_ankle", "right_foot"}, {"left_heel", "left_heel"}, {"right_heel", "right_heel"},
    {"left_foot_index", "left_foot_index"}, {"right_foot_index", "right_foot_index"},
    // Human3.6M, MPII, LSP
    {"pelvis", "hips"}, {"spine", "spine"}, {"thorax", "neck"}, {"neck_nose", "nose"}, {"head", "head_top"},
    {"upper_neck", "neck1"}, {"head_top", "head_top"}, {"neck", "neck"}};

// Points posed by linear blend skinning: rest = rest0 + dirs * shape.
struct SkinnedPoints {
  Eigen::Matrix3Xd rest0;
  Eigen::MatrixXd dirs;                                   // 3N x K
  std::vector<std::vector<std::pair<int, double>>> skin;  // per point (joint, weight)

  int size() const { return int(rest0.cols()); }
  void add(const Eigen::Vector3d& r, const Eigen::MatrixXd& d, std::vector<std::pair<int, double>> s) {
    rest0.conservativeResize(3, rest0.cols() + 1);
    rest0.col(rest0.cols() - 1) = r;
    dirs.conservativeResize(dirs.rows() + 3, d.cols());
    dirs.bottomRows(3) = d;
    skin.push_back(std::move(s));
  }

  template <typename T>
  Vec3<T> pose(int i, const T* shape, const Mat3<T>* rotations, const Vec3<T>* offsets) const {
    const int K = int(dirs.cols());
    Vec3<T> rest(T(rest0(0, i)), T(rest0(1, i)), T(rest0(2, i)));
    for (int k = 0; k < K; ++k)
      for (int d = 0; d < 3; ++d) rest[d] += dirs(3 * i + d, k) * shape[k];
    Vec3<T> out = Vec3<T>::Zero();
    for (auto [j, w] : skin[std::size_t(i)]) out += w * (rotations[j] * rest + offsets[j]);
    return out;
  }
};

// The fixed data of one fit stage, read by the cost functor.
struct Stage {
  const BodyModel* model = nullptr;
  const Eigen::Matrix3Xd* joints0 = nullptr;  // rest joints at zero shape
  const Eigen::MatrixXd* joint_dirs = nullptr;
  std::vector<int> active;                    // pose components optimised (indices into the 3J pose)
  PinholeCamera<double> camera;
  // Keypoints: model points with targets.
  SkinnedPoints keypoint_points;
  std::vector<Eigen::Vector2d> keypoint_targets;
  std::vector<double> keypoint_weights;       // sqrt(confidence) / sigma
  double robust_px = 20;
  // 3D joints (root-relative): model points, targets relative to the first entry (the root).
  SkinnedPoints joint3d_points;
  std::vector<Eigen::Vector3d> joint3d_targets;
  std::vector<double> joint3d_weights;
  bool joint3d_scale_free = false;            // compare after scaling the targets to the model's size
  double joint3d_target_norm = 0;             // sum of weight^2 |target|^2 (the scale's denominator)
  // Silhouette: sampled vertices kept inside (distance transform), outline correspondences.
  SkinnedPoints inside_points;
  const ceres::BiCubicInterpolator<ceres::Grid2D<double, 1>>* outside_distance = nullptr;
  double inside_weight = 0;
  // Outline correspondences: a model point on the fit's rendered outline and a point of the mask's outline,
  // compared along the mask outline's normal there (point-to-line, so the body can slide along the outline).
  SkinnedPoints outline_points;
  std::vector<Eigen::Vector2d> outline_targets;
  std::vector<Eigen::Vector2d> outline_normals;
  double outline_weight = 0;
  double pose_weight = 1, shape_weight = 1;
  // Height prior: the unposed height, linear in the shape (top and bottom vertex of the template), against
  // the population's (BodyFitOptions::height_prior_*); off when height_weight is 0.
  const Eigen::VectorXd* height_dirs = nullptr;
  double height0 = 0, height_mean = 0, height_weight = 0;

  int residual_count() const {
    const int prior = model->pose_prior.empty() ? int(active.size()) : int(model->pose_prior.whitening.rows());
    return 2 * keypoint_points.size() + 3 * joint3d_points.size() + inside_points.size() + outline_points.size() +
           prior + model->num_shapes() + (height_weight > 0 ? 1 : 0);
  }
};

struct BodyCost {
  const Stage& s;

  // DynamicAutoDiffCostFunction's form: parameter blocks orientation, translation, active pose, shape.
  template <typename T>
  bool operator()(T const* const* parameters, T* r) const {
    return evaluate(parameters[0], parameters[1], parameters[2], parameters[3], r);
  }

  template <typename T>
  bool evaluate(const T* orient, const T* translation, const T* active, const T* shape, T* r) const {
    const BodyModel& m = *s.model;
    const int J = m.num_joints(), K = m.num_shapes();
    std::vector<T> rest(std::size_t(3 * J)), pose(std::size_t(3 * J), T(0));
    for (int i = 0; i < 3 * J; ++i) {
      rest[std::size_t(i)] = T((*s.joints0)(i % 3, i / 3));
      for (int k = 0; k < K; ++k) rest[std::size_t(i)] += (*s.joint_dirs)(i, k) * shape[k];
    }
    for (std::size_t a = 0; a < s.active.size(); ++a) pose[std::size_t(s.active[a])] = active[a];
    const auto joint_count = static_cast<std::size_t>(J);
    std::vector<Mat3<T>> rotations(joint_count);
    std::vector<Vec3<T>> offsets(joint_count), joints(joint_count);
    forward_kinematics<T>(m.parents, rest.data(), pose.data(), orient, translation, rotations.data(), offsets.data(),
                          joints.data());
    const PinholeCamera<T> camera = s.camera.cast<T>();
    const T robust2 = T(s.robust_px * s.robust_px);

    for (int i = 0; i < s.keypoint_points.size(); ++i) {
      const Vec3<T> p = s.keypoint_points.pose(i, shape, rotations.data(), offsets.data());
      const Eigen::Matrix<T, 2, 1> e = camera.project(p) - s.keypoint_targets[std::size_t(i)].cast<T>();
      // Geman-McClure-like: cost e^2 / (1 + e^2 / c^2), bounded for outliers.
      const T scale = s.keypoint_weights[std::size_t(i)] / sqrt(T(1) + e.squaredNorm() / robust2);
      *r++ = e.x() * scale;
      *r++ = e.y() * scale;
    }
    if (s.joint3d_points.size()) {
      // Scale-free: the lifter's skeleton is sized by its training population, not by this person, so only
      // its shape (the limbs' directions in depth) is compared, at the least-squares scale onto the model's.
      // The residuals are (p - scale t) w: p w is written first, scale t w subtracted once scale is known.
      const Vec3<T> root = s.joint3d_points.pose(0, shape, rotations.data(), offsets.data());
      T* const first = r;
      T cross = T(0);
      for (int i = 0; i < s.joint3d_points.size(); ++i) {
        const Vec3<T> p = s.joint3d_points.pose(i, shape, rotations.data(), offsets.data()) - root;
        const double w = s.joint3d_weights[std::size_t(i)];
        cross += w * w * p.dot(s.joint3d_targets[std::size_t(i)].cast<T>());
        for (int d = 0; d < 3; ++d) *r++ = p[d] * w;
      }
      const T scale = s.joint3d_scale_free && s.joint3d_target_norm > 0 ? cross / s.joint3d_target_norm : T(1);
      for (int i = 0; i < s.joint3d_points.size(); ++i)
        for (int d = 0; d < 3; ++d)
          first[3 * i + d] -= scale * (s.joint3d_targets[std::size_t(i)][d] * s.joint3d_weights[std::size_t(i)]);
    }
    for (int i = 0; i < s.inside_points.size(); ++i) {
      const Eigen::Matrix<T, 2, 1> uv = camera.project(s.inside_points.pose(i, shape, rotations.data(), offsets.data()));
      T distance;
      s.outside_distance->Evaluate(uv.y(), uv.x(), &distance);
      *r++ = distance > T(0) ? distance * s.inside_weight : T(0);
    }
    for (int i = 0; i < s.outline_points.size(); ++i) {
      const Eigen::Matrix<T, 2, 1> e = camera.project(s.outline_points.pose(i, shape, rotations.data(), offsets.data())) -
                                       s.outline_targets[std::size_t(i)].cast<T>();
      const T along_normal = e.dot(s.outline_normals[std::size_t(i)].cast<T>());
      *r++ = along_normal * s.outline_weight / sqrt(T(1) + along_normal * along_normal / robust2);
    }
    const PosePrior& prior = m.pose_prior;
    if (prior.empty()) {
      for (std::size_t a = 0; a < s.active.size(); ++a) *r++ = s.pose_weight * active[a];
    } else {
      for (Eigen::Index row = 0; row < prior.whitening.rows(); ++row) {
        T sum = T(0);
        for (std::size_t a = 0; a < s.active.size(); ++a)
          sum += prior.whitening(row, s.active[a]) * (active[a] - prior.mean[s.active[a]]);
        *r++ = s.pose_weight * sum;
      }
    }
    for (int k = 0; k < K; ++k) *r++ = s.shape_weight * shape[k];
    if (s.height_weight > 0) {
      T height = T(s.height0 - s.height_mean);
      for (int k = 0; k < K; ++k) height += (*s.height_dirs)[k] * shape[k];
      *r++ = s.height_weight * height;
    }
    return true;
  }
};

// The pixels of a closed outline (cv::findContours order) and, when asked, their unit normals, from the
// tangent over a few pixels either side (one pixel's step only says which of 8 directions).
void append_outline(const std::vector<cv::Point>& contour, std::vector<Eigen::Vector2d>& points,
                    std::vector<Eigen::Vector2d>* normals) {
  const int n = int(contour.size());
  constexpr int kReach = 3;
  for (int i = 0; i < n; ++i) {
    points.emplace_back(contour[std::size_t(i)].x, contour[std::size_t(i)].y);
    if (!normals) continue;
    const cv::Point a = contour[std::size_t((i + n - kReach % n) % n)], b = contour[std::size_t((i + kReach) % n)];
    const Eigen::Vector2d tangent(b.x - a.x, b.y - a.y);
    normals->push_back(tangent.norm() > 0 ? Eigen::Vector2d(-tangent.y(), tangent.x()).normalized() : Eigen::Vector2d(1, 0));
  }
}

std::size_t nearest(const std::vector<Eigen::Vector2d>& points, const Eigen::Vector2d& q) {
  std::size_t best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < points.size(); ++i)
    if (const double d = (points[i] - q).squaredNorm(); d < best_d) best_d = d, best = i;
  return best;
}

}  // namespace

struct BodyFitter::Impl {
  const BodyModel& model;
  Eigen::Matrix3Xd joints0;
  Eigen::MatrixXd joint_dirs;  // 3J x K
  std::vector<int> active;     // moving pose components
  std::vector<int> samples;    // vertices spread over the body (farthest-point order)
  Eigen::VectorXd height_dirs; // d(height)/d(shape) of the template's top and bottom vertices
  double height0 = 0;

  explicit Impl(const BodyModel& m) : model(m) {
    const int J = m.num_joints(), K = m.num_shapes(), V = m.num_vertices();
    joints0 = m.rest_joints(Eigen::VectorXd());
    joint_dirs.resize(3 * J, K);
    for (int k = 0; k < K; ++k) {
      const Eigen::Map<const Eigen::Matrix3Xd> dir(m.shape_dirs.col(k).data(), 3, V);
      const Eigen::Matrix3Xd jd = (m.joint_regressor * dir.transpose()).transpose();
      joint_dirs.col(k) = Eigen::Map<const Eigen::VectorXd>(jd.data(), 3 * J);
    }
    for (int i = 3; i < 3 * J; ++i)
      if (m.pose_prior.empty() || m.pose_prior.upper[i] > m.pose_prior.lower[i]) active.push_back(i);
    Eigen::Index top = 0, bottom = 0;
    m.template_vertices.row(1).maxCoeff(&top);
    m.template_vertices.row(1).minCoeff(&bottom);
    height0 = m.template_vertices(1, top) - m.template_vertices(1, bottom);
    height_dirs = (m.shape_dirs.row(3 * top + 1) - m.shape_dirs.row(3 * bottom + 1)).transpose();
    // Farthest-point sampling of the template (deterministic: starts at vertex 0).
    Eigen::VectorXd nearest = Eigen::VectorXd::Constant(V, 1e30);
    int next = 0;
    for (int n = 0; n < std::min(V, 400); ++n) {
      samples.push_back(next);
      nearest = nearest.cwiseMin((m.template_vertices.colwise() - m.template_vertices.col(next)).colwise().squaredNorm().transpose());
      nearest.maxCoeff(&next);
    }
  }

  // The model's point for a keypoint: monobody's rig point it maps to, if the model has it; else the model's
  // joint of the keypoint's own name (an SMPL-format model's "left_shoulder", "left_knee", ...); else none. The
  // mapping comes first because monobody's CMU-style rig reuses a keypoint name for another place (its
  // "left_shoulder" is the collarbone's joint).
  std::optional<std::string> model_point(std::string_view keypoint) const {
    const auto has = [&](std::string_view name) {
      return std::find(model.joint_names.begin(), model.joint_names.end(), name) != model.joint_names.end() ||
             std::any_of(model.landmarks.begin(), model.landmarks.end(), [&](const BodyLandmark& l) { return l.name == name; });
    };
    if (auto it = kKeypointToModel.find(keypoint); it != kKeypointToModel.end() && has(it->second)) return it->second;
    if (std::find(model.joint_names.begin(), model.joint_names.end(), keypoint) != model.joint_names.end())
      return std::string(keypoint);
    return std::nullopt;
  }

  void add_point(SkinnedPoints& points, const std::string& name) const {
    for (int j = 0; j < model.num_joints(); ++j)
      if (model.joint_names[std::size_t(j)] == name) return points.add(joints0.col(j), joint_dirs.middleRows(3 * j, 3), {{j, 1.0}});
    add_vertex_mix(points, model.landmarks[std::size_t(model.landmark(name))].vertices);
  }

  void add_vertex_mix(SkinnedPoints& points, const std::vector<std::pair<int, double>>& mix) const {
    Eigen::Vector3d rest = Eigen::Vector3d::Zero();
    Eigen::MatrixXd dirs = Eigen::MatrixXd::Zero(3, model.num_shapes());
    std::map<int, double> skin;
    for (auto [v, w] : mix) {
      rest += w * model.template_vertices.col(v);
      dirs += w * model.shape_dirs.middleRows(3 * v, 3);
      for (int k = model.skin_offset[std::size_t(v)]; k < model.skin_offset[std::size_t(v + 1)]; ++k)
        skin[model.skin_joint[std::size_t(k)]] += w * model.skin_weight[std::size_t(k)];
    }
    points.add(rest, dirs, {skin.begin(), skin.end()});
  }
};

BodyFitter::BodyFitter(const BodyModel& model) : impl_(std::make_unique<Impl>(model)) {}
BodyFitter::~BodyFitter() = default;

bool BodyFitter::has_point(std::string_view name) const { return impl_->model_point(name).has_value(); }

Eigen::Matrix3Xd BodyFitter::keypoints(const BodyPoser& poser, JointSet set) const {
  const Skeleton& sk = skeleton(set);
  Eigen::Matrix3Xd out = Eigen::Matrix3Xd::Constant(3, sk.size(), std::numeric_limits<double>::quiet_NaN());
  for (int i = 0; i < sk.size(); ++i) {
    const auto name = impl_->model_point(sk.joints[std::size_t(i)]);
    if (!name) continue;
    bool found = false;
    for (int j = 0; j < poser.model().num_joints() && !found; ++j)
      if (poser.model().joint_names[std::size_t(j)] == *name) out.col(i) = poser.joints().col(j), found = true;
    if (!found) out.col(i) = poser.landmark(poser.model().landmark(*name));
  }
  return out;
}

BodyPose BodyFitter::fit(const BodyFitInput& input, const BodyFitOptions& options, BodyFitReport* report) const {
  const auto start = std::chrono::steady_clock::now();
  const Impl& im = *impl_;
  const BodyModel& model = im.model;
  const int J = model.num_joints(), K = model.num_shapes();

  Stage stage;
  stage.model = &model;
  stage.joints0 = &im.joints0;
  stage.joint_dirs = &im.joint_dirs;
  stage.active = im.active;
  stage.camera = input.camera;
  stage.robust_px = options.keypoint_robust_px;
  stage.joint3d_scale_free = options.joints3d_scale_free;
  stage.pose_weight = options.pose_prior_weight;
  stage.shape_weight = options.shape_prior_weight;
  if (options.height_prior_sigma_m > 0) {
    stage.height_dirs = &im.height_dirs;
    stage.height0 = im.height0;
    stage.height_mean = options.height_prior_m;
    stage.height_weight = 1.0 / options.height_prior_sigma_m;
  }

  // Keypoints with a model counterpart.
  std::vector<Eigen::Vector3d> kp_rest;  // rest positions at zero shape, for the initial placement
  if (input.keypoints) {
    const Keypoints2D& kp = *input.keypoints;
    const Skeleton& sk = skeleton(kp.joint_set);
    for (int i = 0; i < kp.size(); ++i) {
      const auto name = im.model_point(sk.joints[std::size_t(i)]);
      if (!name || !kp.valid(i)) continue;
      im.add_point(stage.keypoint_points, *name);
      stage.keypoint_targets.push_back(kp.xy.col(i));
      stage.keypoint_weights.push_back(std::sqrt(std::min(1.0, kp.confidence[i])) / options.keypoint_sigma_px);
      kp_rest.push_back(stage.keypoint_points.rest0.col(stage.keypoint_points.size() - 1));
    }
  }
  if (stage.keypoint_points.size() < 6)
    throw Error("body fit needs at least 6 keypoints with a model counterpart, got " +
                std::to_string(stage.keypoint_points.size()));
  if (input.joints3d) {
    const Joints3D& j3 = *input.joints3d;
    const Skeleton& sk = skeleton(j3.joint_set);
    std::optional<Eigen::Vector3d> root;
    for (int i = 0; i < j3.size(); ++i) {
      const auto name = im.model_point(sk.joints[std::size_t(i)]);
      if (!name || !j3.valid(i)) continue;
      if (!root) root = j3.xyz.col(i);
      im.add_point(stage.joint3d_points, *name);
      stage.joint3d_targets.push_back(j3.xyz.col(i) - *root);
      stage.joint3d_weights.push_back(std::sqrt(std::min(1.0, j3.confidence[i])) / options.joints3d_sigma_m);
      stage.joint3d_target_norm += stage.joint3d_weights.back() * stage.joint3d_weights.back() *
                                   stage.joint3d_targets.back().squaredNorm();
    }
  }

  // Silhouette: distance (pixels) to the mask for pixels outside it, and the mask's outline. Everything about
  // the silhouette is computed in a window around the person (the mask's extent plus a margin), not over the
  // whole frame: a person is often a small part of a video frame, and these are the fit's costliest steps.
  cv::Mat outside_distance;
  std::vector<Eigen::Vector2d> outline, outline_normal;  // every pixel of the mask's outline (image coordinates)
  cv::Rect window;                       // image pixels
  PinholeCamera<double> window_camera;   // the camera with its principal point moved into the window
  if (input.mask) {
    if (input.mask_width <= 0 || input.mask_height <= 0) throw Error("body fit: the mask has no size");
    const cv::Mat mask(input.mask_height, input.mask_width, CV_8U, const_cast<std::uint8_t*>(input.mask));
    const cv::Mat full_binary = mask > 0;
    window = cv::boundingRect(full_binary);
    const cv::Rect image(0, 0, input.mask_width, input.mask_height);
    if (window.area() == 0) {
      window = image;
    } else {
      const int margin = std::max(32, int(0.3 * std::max(window.width, window.height)));
      window = cv::Rect(window.x - margin, window.y - margin, window.width + 2 * margin, window.height + 2 * margin) & image;
    }
    window_camera = input.camera;
    window_camera.cx -= window.x;
    window_camera.cy -= window.y;
    const cv::Mat binary = full_binary(window);
    // Signed distance to the outline, which runs half a pixel beyond the outermost mask pixels: positive
    // outside, negative inside, so that a point on the outline reads 0 (the residual keeps only the outside).
    cv::Mat outside = binary == 0, to_mask, to_outside;
    cv::distanceTransform(outside, to_mask, cv::DIST_L2, cv::DIST_MASK_PRECISE);
    cv::distanceTransform(binary, to_outside, cv::DIST_L2, cv::DIST_MASK_PRECISE);
    outside_distance.create(binary.size(), CV_64F);
    for (int y = 0; y < binary.rows; ++y)
      for (int x = 0; x < binary.cols; ++x)
        outside_distance.at<double>(y, x) = binary.at<std::uint8_t>(y, x) ? 0.5 - to_outside.at<float>(y, x)
                                                                           : to_mask.at<float>(y, x) - 0.5;
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(binary, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE, cv::Point(window.x, window.y));
    for (const auto& c : contours) append_outline(c, outline, &outline_normal);
  }
  std::optional<ceres::Grid2D<double, 1>> grid;
  std::optional<ceres::BiCubicInterpolator<ceres::Grid2D<double, 1>>> interpolator;
  if (!outside_distance.empty()) {
    // In image coordinates; beyond the window the distance holds its edge value (Grid2D clamps).
    grid.emplace(outside_distance.ptr<double>(), window.y, window.y + outside_distance.rows, window.x,
                 window.x + outside_distance.cols);
    interpolator.emplace(*grid);
  }

  // Parameters.
  BodyPose result = input.initial ? *input.initial : BodyPose::zero(model);
  if (result.shape.size() != K || result.pose.size() != 3 * J) throw Error("body fit: the initial pose does not fit the model");
  if (input.shape && input.shape->size() != K) throw Error("body fit: the known shape does not fit the model");
  if (input.shape) result.shape = *input.shape;
  if (input.previous && (input.previous->pose.size() != 3 * J || input.previous->shape.size() != K))
    throw Error("body fit: the previous frame's pose does not fit the model");
  if (!(options.temporal_sigma_rad > 0) || !(options.temporal_sigma_m > 0))
    throw Error("body fit: the temporal sigmas must be positive");
  const bool free_shape = input.shape == nullptr;
  std::vector<double> active(im.active.size());
  for (std::size_t a = 0; a < active.size(); ++a)
    active[a] = input.initial ? result.pose[im.active[a]] : (model.pose_prior.empty() ? 0.0 : model.pose_prior.mean[im.active[a]]);

  Eigen::Vector3d& orient = result.global_orient;
  Eigen::Vector3d& translation = result.translation;
  Eigen::VectorXd& shape = result.shape;

  ceres::Solver::Options solver;
  solver.linear_solver_type = ceres::DENSE_NORMAL_CHOLESKY;
  solver.max_num_iterations = options.iterations;
  solver.num_threads = 1;
  solver.logging_type = ceres::SILENT;
  // A warm start (the previous video frame) is near its minimum, where the silhouette's hinge and re-associated
  // outline make each step gain little: stop once a step gains under 0.01 % (body_fit_bench warm-started frame:
  // 157 -> 21 ms; the outline term alone took it from 31 to 157 ms at 1e-6).
  solver.function_tolerance = input.initial ? 1e-4 : 1e-6;
  auto solve = [&](bool free_pose, bool free_shape) {
    ceres::Problem problem;
    auto* cost = new ceres::DynamicAutoDiffCostFunction<BodyCost, 16>(new BodyCost{stage});
    cost->AddParameterBlock(3);
    cost->AddParameterBlock(3);
    cost->AddParameterBlock(int(active.size()));
    cost->AddParameterBlock(K);
    cost->SetNumResiduals(stage.residual_count());
    problem.AddResidualBlock(cost, nullptr, {orient.data(), translation.data(), active.data(), shape.data()});
    if (free_pose && !model.pose_prior.empty())
      for (std::size_t a = 0; a < active.size(); ++a) {
        problem.SetParameterLowerBound(active.data(), int(a), model.pose_prior.lower[im.active[a]]);
        problem.SetParameterUpperBound(active.data(), int(a), model.pose_prior.upper[im.active[a]]);
      }
    if (input.previous) {
      // Temporal term: the previous frame's pose, orientation and placement as a Gaussian prior.
      const BodyPose& prev = *input.previous;
      const auto prior = [&](double* block, const Eigen::VectorXd& mean, double sigma) {
        const ceres::Matrix A = ceres::Matrix::Identity(mean.size(), mean.size()) / sigma;
        problem.AddResidualBlock(new ceres::NormalPrior(A, mean), nullptr, block);
      };
      Eigen::VectorXd prev_active(Eigen::Index(active.size()));
      for (std::size_t a = 0; a < active.size(); ++a) prev_active[Eigen::Index(a)] = prev.pose[im.active[a]];
      prior(active.data(), prev_active, options.temporal_sigma_rad);
      prior(orient.data(), prev.global_orient, options.temporal_sigma_rad);
      prior(translation.data(), prev.translation, options.temporal_sigma_m);
    }
    if (!free_pose) problem.SetParameterBlockConstant(active.data());
    if (!free_shape) problem.SetParameterBlockConstant(shape.data());
    ceres::Solver::Summary summary;
    ceres::Solve(solver, &problem, &summary);
    return summary.final_cost;
  };
  auto current_pose = [&] {
    BodyPose p = result;
    p.pose.setZero();
    for (std::size_t a = 0; a < active.size(); ++a) p.pose[im.active[a]] = active[a];
    p.global_orient = orient;
    return p;
  };

  // Stage 1: orientation and translation from the keypoints, trying the person facing the camera and
  // facing away; depth from the keypoints' spread against the mean body's.
  if (!input.initial) {
    Eigen::Vector2d c2 = Eigen::Vector2d::Zero();
    Eigen::Vector3d c3 = Eigen::Vector3d::Zero();
    const int n = int(kp_rest.size());
    for (int i = 0; i < n; ++i) c2 += stage.keypoint_targets[std::size_t(i)], c3 += kp_rest[std::size_t(i)];
    c2 /= n;
    c3 /= n;
    double spread2 = 0, spread3 = 0;
    for (int i = 0; i < n; ++i) {
      spread2 += (stage.keypoint_targets[std::size_t(i)] - c2).squaredNorm();
      spread3 += (kp_rest[std::size_t(i)] - c3).head<2>().squaredNorm();
    }
    const double depth = std::clamp(0.5 * (input.camera.fx + input.camera.fy) * std::sqrt(spread3 / std::max(spread2, 1e-9)), 0.5, 100.0);
    const Eigen::Vector3d root = im.joints0.col(0);
    double best_cost = std::numeric_limits<double>::infinity();
    BodyPose best = result;
    std::vector<double> best_active = active;
    const std::vector<double> start_active = active;
    for (const Eigen::Vector3d& facing : {Eigen::Vector3d(M_PI, 0, 0), Eigen::Vector3d(0, 0, M_PI)}) {
      orient = facing;
      active = start_active;
      if (free_shape) shape.setZero();
      const Eigen::Vector3d target = input.camera.unproject(c2, depth);
      translation = target - root - axis_angle_to_matrix<double>(orient) * (c3 - root);
      solve(false, false);
      const double cost = solve(true, false);  // the pose too, so a wrong facing cannot hide behind it
      if (cost < best_cost) best_cost = cost, best = result, best_active = active;
    }
    result = best;
    active = best_active;
  }

  // Stage 2: pose and shape, with the silhouette (outline correspondences re-associated each round).
  BodyPoser poser(model);
  Rasterizer raster;
  // A warm start (the previous video frame) is already close: one round.
  const int rounds = input.mask && !input.initial ? std::max(1, options.silhouette_rounds) : 1;
  for (int round = 0; round < rounds; ++round) {
    stage.inside_points = {};
    stage.outline_points = {};
    stage.outline_targets.clear();
    if (input.mask) {
      for (int i = 0; i < std::min<int>(options.silhouette_samples, int(im.samples.size())); ++i)
        im.add_vertex_mix(stage.inside_points, {{im.samples[std::size_t(i)], 1.0}});
      stage.outside_distance = &*interpolator;
      stage.inside_weight = std::sqrt(20.0 / stage.inside_points.size()) / options.silhouette_sigma_px;
      // Outline, both ways: points of the mask's outline pulled onto the nearest pixel of the fit's rendered
      // outline, and points of the rendered outline onto the nearest of the mask's. The model point is the
      // surface point seen at that pixel (its triangle and barycentric weights), not a nearby vertex: at the
      // true pose every correspondence is then exact, where vertices a few centimetres apart bent the body.
      poser.pose(current_pose());
      raster.render(poser.vertices(), model.faces, window_camera, window.width, window.height);
      std::vector<std::uint8_t> rendered_mask = raster.mask();
      cv::Mat rendered(window.height, window.width, CV_8U, rendered_mask.data());
      std::vector<std::vector<cv::Point>> rendered_contours;
      cv::findContours(rendered, rendered_contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE, cv::Point(window.x, window.y));
      std::vector<Eigen::Vector2d> fit_outline;  // compared along the mask's normals: its own are not needed
      for (const auto& c : rendered_contours) append_outline(c, fit_outline, nullptr);
      const auto add_surface_point = [&](const Eigen::Vector2d& pixel, const Eigen::Vector2d& target,
                                         const Eigen::Vector2d& normal) {
        const std::size_t at = std::size_t(int(pixel.y()) - window.y) * std::size_t(window.width) +
                               std::size_t(int(pixel.x()) - window.x);
        const int triangle = raster.triangle()[at];
        if (triangle < 0) return;
        const Eigen::Vector2f w = raster.barycentric()[at];
        im.add_vertex_mix(stage.outline_points, {{model.faces(0, triangle), 1.0 - w.x() - w.y()},
                                                 {model.faces(1, triangle), w.x()},
                                                 {model.faces(2, triangle), w.y()}});
        stage.outline_targets.push_back(target);
        stage.outline_normals.push_back(normal);
      };
      if (!fit_outline.empty() && !outline.empty()) {
        const int samples = std::max(1, options.contour_samples);
        for (int k = 0; k < samples; ++k) {
          const std::size_t q = std::size_t(k) * outline.size() / std::size_t(samples);
          add_surface_point(fit_outline[nearest(fit_outline, outline[q])], outline[q], outline_normal[q]);
          const std::size_t b = std::size_t(k) * fit_outline.size() / std::size_t(samples);
          const std::size_t q2 = nearest(outline, fit_outline[b]);
          add_surface_point(fit_outline[b], outline[q2], outline_normal[q2]);
        }
        stage.outline_weight = std::sqrt(40.0 / double(std::max(1, stage.outline_points.size()))) / options.silhouette_sigma_px;
      }
    }
    solve(true, free_shape);
  }
  result.pose.setZero();
  for (std::size_t a = 0; a < active.size(); ++a) result.pose[im.active[a]] = active[a];

  if (report) {
    poser.pose(result);
    double sq = 0;
    int n = 0;
    if (input.keypoints) {
      const Eigen::Matrix3Xd model_kp = keypoints(poser, input.keypoints->joint_set);
      for (int i = 0; i < input.keypoints->size(); ++i)
        if (input.keypoints->valid(i) && model_kp.col(i).allFinite()) {
          sq += (input.camera.project(Eigen::Vector3d(model_kp.col(i))) - input.keypoints->xy.col(i)).squaredNorm();
          ++n;
        }
    }
    report->keypoints_used = n;
    report->keypoint_rms_px = n ? std::sqrt(sq / n) : 0.0;
    if (input.mask) {
      // Within the window (the mask is empty outside it; a body reaching beyond it is rare and counts less).
      raster.render(poser.vertices(), model.faces, window_camera, window.width, window.height);
      std::size_t both = 0, either = 0;
      for (int y = 0; y < window.height; ++y)
        for (int x = 0; x < window.width; ++x) {
          const bool a = raster.triangle()[std::size_t(y) * std::size_t(window.width) + std::size_t(x)] >= 0;
          const bool b = input.mask[std::size_t(y + window.y) * std::size_t(input.mask_width) + std::size_t(x + window.x)] != 0;
          both += a && b;
          either += a || b;
        }
      report->silhouette_iou = either ? double(both) / double(either) : 0.0;
    }
    report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return result;
}

}  // namespace monobody
