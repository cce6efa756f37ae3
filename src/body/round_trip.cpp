// The synthetic round trip of the fitter (see body.hpp): known truth, rendered inputs, measured errors.
#include <random>

#include "monobody/body.hpp"
#include "monobody/error.hpp"
#include "monobody/render.hpp"

namespace monobody {

BodyRoundTripResult body_round_trip(const BodyModel& model, const std::vector<Eigen::VectorXd>& poses,
                                    const BodyRoundTripOptions& options) {
  if (poses.empty()) throw Error("the round trip needs motion-capture poses");
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::normal_distribution<double> normal(0.0, 1.0);
  auto range = [&](double lo, double hi) { return lo + (hi - lo) * uniform(rng); };

  const BodyFitter fitter(model);
  BodyPoser truth_poser(model), fit_poser(model);
  Rasterizer raster;
  constexpr int kWidth = 800, kHeight = 800;
  BodyRoundTripResult out;
  for (int trial = 0; trial < options.trials; ++trial) {
    BodyPose truth = BodyPose::zero(model);
    // A character of the population the model was learned from: adult semantic sliders, plus variation the
    // sliders do not explain (the measurement modifiers).
    Eigen::VectorXd semantics(6);
    semantics << uniform(rng), range(0.354, 1.0), uniform(rng), uniform(rng), uniform(rng), uniform(rng);
    truth.shape = model.shape_from_semantics(semantics);
    for (int k = 0; k < model.num_shapes(); ++k) truth.shape[k] += options.shape_noise * normal(rng);
    truth.pose = poses[std::size_t(uniform(rng) * double(poses.size())) % poses.size()];
    truth.pose.head<3>().setZero();
    const Eigen::Matrix3d facing = Eigen::AngleAxisd(M_PI, Eigen::Vector3d::UnitX()).toRotationMatrix() *
                                   Eigen::AngleAxisd(range(-M_PI / 3, M_PI / 3), Eigen::Vector3d::UnitY()) *
                                   Eigen::AngleAxisd(range(-0.15, 0.15), Eigen::Vector3d::UnitX());
    truth.global_orient = matrix_to_axis_angle<double>(facing);
    PinholeCamera<double> camera;
    camera.fx = camera.fy = range(800, 1400);
    camera.cx = (kWidth - 1) / 2.0;
    camera.cy = (kHeight - 1) / 2.0;
    const Eigen::Vector3d root = model.rest_joints(truth.shape).col(0);
    truth.translation = Eigen::Vector3d(range(-0.3, 0.3), range(-0.2, 0.2), range(3.5, 6.0)) - root;
    truth_poser.pose(truth);

    Keypoints2D keypoints = Keypoints2D::zeros(JointSet::BlazePose33);
    const Eigen::Matrix3Xd points = fitter.keypoints(truth_poser, JointSet::BlazePose33);
    for (int i = 0; i < keypoints.size(); ++i) {
      if (!points.col(i).allFinite()) continue;
      keypoints.xy.col(i) = camera.project(Eigen::Vector3d(points.col(i))) +
                            options.noise_px * Eigen::Vector2d(normal(rng), normal(rng));
      keypoints.confidence[i] = 1.0;
    }
    raster.render(truth_poser.vertices(), model.faces, camera, kWidth, kHeight);
    const std::vector<std::uint8_t> mask = raster.mask();

    BodyFitInput input;
    input.camera = camera;
    input.keypoints = &keypoints;
    std::optional<Joints3D> lifted;
    if (options.lift) lifted = options.lift(keypoints, camera);
    if (lifted) input.joints3d = &*lifted;
    if (options.silhouette) {
      input.mask = mask.data();
      input.mask_width = kWidth;
      input.mask_height = kHeight;
    }
    BodyFitReport report;
    const BodyPose fitted = fitter.fit(input, options.fit, &report);
    fit_poser.pose(fitted);

    auto aligned_error = [](const Eigen::Matrix3Xd& a, const Eigen::Matrix3Xd& b) {
      const Eigen::Matrix3Xd d = (a.colwise() - a.rowwise().mean()) - (b.colwise() - b.rowwise().mean());
      return 1000.0 * d.colwise().norm().mean();
    };
    out.vertex_error_mm.push_back(aligned_error(fit_poser.vertices(), truth_poser.vertices()));
    // The same after also fitting a scale: what remains once the depth-size ambiguity is taken out.
    {
      const Eigen::Matrix3Xd a = fit_poser.vertices().colwise() - fit_poser.vertices().rowwise().mean();
      const Eigen::Matrix3Xd b = truth_poser.vertices().colwise() - truth_poser.vertices().rowwise().mean();
      const double scale = (a.array() * b.array()).sum() / a.squaredNorm();
      out.scaled_vertex_error_mm.push_back(1000.0 * (scale * a - b).colwise().norm().mean());
    }
    out.depth_error_mm.push_back(1000.0 * std::abs(fitted.translation.z() + model.rest_joints(fitted.shape)(2, 0) -
                                                   truth.translation.z() - root.z()));
    out.joint_error_mm.push_back(aligned_error(fit_poser.joints(), truth_poser.joints()));
    out.height_error_mm.push_back(1000.0 * std::abs(body_height(model, fitted.shape) - body_height(model, truth.shape)));
    out.seconds.push_back(report.seconds);
    out.keypoint_rms_px.push_back(report.keypoint_rms_px);
    out.silhouette_iou.push_back(report.silhouette_iou);
  }
  return out;
}

}  // namespace monobody
