#include "monobody/pictures.hpp"

#include <opencv2/imgproc.hpp>

#include "monobody/draw.hpp"
#include "monobody/error.hpp"
#include "monobody/render.hpp"

namespace monobody {
namespace {

PinholeCamera<double> camera_of(const FrameResult& frame, int width, int height) {
  return frame.camera ? *frame.camera : default_camera(width, height);
}

Eigen::Matrix3Xd posed_vertices(const BodyModel& model, const BodyParameters& b) {
  BodyPoser poser(model);
  poser.pose({b.shape, b.pose, b.global_orient, b.translation});
  return poser.vertices();
}

}  // namespace

void draw_frame_overlay(Image& image, const FrameResult& frame, const BodyModel* model) {
  const PinholeCamera<double> camera = camera_of(frame, image.width(), image.height());
  if (model)
    for (const Person& p : frame.people)
      if (p.body && p.body->model == model->name)
        draw_mesh(image, posed_vertices(*model, *p.body), model->faces, camera, {.color = person_color(p.id), .opacity = 0.6});
  for (const Person& p : frame.people)
    if (p.keypoints2d) draw_skeleton(image, *p.keypoints2d, p.id, {.min_confidence = 0.5});
}

Image side_view(const FrameResult& frame, const BodyModel* model, int width, int height) {
  // Everything in the real camera's frame; the centre of the people decides where the virtual camera looks.
  std::vector<std::pair<const Person*, Eigen::Matrix3Xd>> meshes;
  Eigen::Vector3d lo = Eigen::Vector3d::Constant(1e9), hi = -lo;
  for (const Person& p : frame.people) {
    if (model && p.body && p.body->model == model->name) meshes.emplace_back(&p, posed_vertices(*model, *p.body));
    else if (p.joints3d) meshes.emplace_back(&p, p.joints3d->xyz);
    else continue;
    lo = lo.cwiseMin(meshes.back().second.rowwise().minCoeff());
    hi = hi.cwiseMax(meshes.back().second.rowwise().maxCoeff());
  }
  if (meshes.empty()) throw Error("side view: nobody in this frame has 3D joints");
  const Eigen::Vector3d centre = 0.5 * (lo + hi);
  // Seen from +x (the people's right as they face the camera), looking along -x; image x = depth (z), y down.
  const double extent = std::max({hi.z() - lo.z(), hi.y() - lo.y(), 1.0}) + 1.0;
  PinholeCamera<double> view;
  view.fx = view.fy = 0.9 * std::min(width, height);
  view.cx = (width - 1) / 2.0;
  view.cy = (height - 1) / 2.0;
  const double distance = view.fx * extent / std::min(width, height) + 0.5 * (hi.x() - lo.x());
  Eigen::Matrix3d R;  // real camera frame -> side camera frame
  R << 0, 0, 1,   // side x = real z (farther is to the right)
       0, 1, 0,   // side y = real y (down)
      -1, 0, 0;   // side z = -real x (looking along -x)
  const Eigen::Vector3d t = -R * centre + Eigen::Vector3d(0, 0, distance);

  Image canvas(width, height);
  cv::Mat m(height, width, CV_8UC3, canvas.row(0));
  m.setTo(cv::Scalar(245, 245, 245));
  // The real camera's optical axis and the line of sight through the people's centre: depth errors move people
  // along it.
  auto to_px = [&](const Eigen::Vector3d& x) {
    const Eigen::Vector2d uv = view.project(Eigen::Vector3d(R * x + t));
    return cv::Point(int(std::lround(uv.x())), int(std::lround(uv.y())));
  };
  const Eigen::Vector3d ray = centre.normalized();
  for (double s = 0; s < 2 * centre.norm(); s += 0.2)
    cv::line(m, to_px(ray * s), to_px(ray * (s + 0.1)), cv::Scalar(150, 150, 150), 1, cv::LINE_AA);
  cv::circle(m, to_px(Eigen::Vector3d::Zero()), 5, cv::Scalar(60, 60, 60), cv::FILLED, cv::LINE_AA);
  cv::putText(m, "camera", to_px(Eigen::Vector3d::Zero()) + cv::Point(8, -8), cv::FONT_HERSHEY_SIMPLEX, 0.45,
              cv::Scalar(60, 60, 60), 1, cv::LINE_AA);
  // A metre scale along the depth axis.
  const cv::Point a(20, height - 20), b = a + cv::Point(int(view.fx / distance), 0);
  cv::line(m, a, b, cv::Scalar(40, 40, 40), 2);
  cv::putText(m, "1 m", a + cv::Point(0, -6), cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(40, 40, 40), 1, cv::LINE_AA);

  for (const auto& [person, points] : meshes) {
    Eigen::Matrix3Xd local = (R * points).colwise() + t;
    if (model && person->body && points.cols() == model->num_vertices()) {
      draw_mesh(canvas, local, model->faces, view, {.color = person_color(person->id), .opacity = 1.0});
    } else {
      Keypoints2D kp = Keypoints2D::zeros(person->joints3d->joint_set);
      for (int j = 0; j < kp.size(); ++j) {
        kp.xy.col(j) = view.project(Eigen::Vector3d(local.col(j)));
        kp.confidence[j] = person->joints3d->confidence[j];
      }
      draw_skeleton(canvas, kp, person->id, {.min_confidence = 0.0});
    }
  }
  return canvas;
}

}  // namespace monobody
