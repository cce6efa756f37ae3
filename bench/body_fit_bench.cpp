// Speed of the body model: posing (FK + skinning of 13,380 vertices), rendering a silhouette, and a full fit
// of one synthetic person (keypoints + silhouette), single-threaded. Needs models/body/monobody_body_v1.bin.
#include <benchmark/benchmark.h>

#include "monobody/body.hpp"
#include "monobody/render.hpp"

namespace monobody {
namespace {

const BodyModel& model() {
  static const BodyModel m = load_body_model(default_body_model_path());
  return m;
}

// A person 4.5 m in front of an 800 x 800 camera, arms and knees slightly bent.
struct Scene {
  BodyPose truth = BodyPose::zero(model());
  PinholeCamera<double> camera;
  Keypoints2D keypoints = Keypoints2D::zeros(JointSet::BlazePose33);
  std::vector<std::uint8_t> mask;
  Scene() {
    truth.shape.setLinSpaced(-0.8, 0.8);
    truth.pose[3 * model().joint("left_fore_arm") + 1] = 0.6;
    truth.pose[3 * model().joint("right_leg")] = 0.4;
    truth.global_orient << M_PI, 0, 0;
    truth.translation << 0, 0, 4.5;
    camera.fx = camera.fy = 1000;
    camera.cx = camera.cy = 399.5;
    BodyPoser poser(model());
    poser.pose(truth);
    const BodyFitter fitter(model());
    const Eigen::Matrix3Xd points = fitter.keypoints(poser, JointSet::BlazePose33);
    for (int i = 0; i < keypoints.size(); ++i)
      if (points.col(i).allFinite()) {
        keypoints.xy.col(i) = camera.project(Eigen::Vector3d(points.col(i)));
        keypoints.confidence[i] = 1;
      }
    Rasterizer r;
    r.render(poser.vertices(), model().faces, camera, 800, 800);
    mask = r.mask();
  }
};

void BM_PoseAndSkin(benchmark::State& state) {
  BodyPoser poser(model());
  BodyPose p = BodyPose::zero(model());
  p.pose[3 * model().joint("left_fore_arm") + 1] = 0.6;
  for (auto _ : state) {
    poser.pose(p);
    benchmark::DoNotOptimize(poser.vertices().data());
  }
}
BENCHMARK(BM_PoseAndSkin)->Unit(benchmark::kMillisecond);

void BM_RenderSilhouette(benchmark::State& state) {
  static const Scene scene;
  BodyPoser poser(model());
  poser.pose(scene.truth);
  Rasterizer r;
  for (auto _ : state) {
    r.render(poser.vertices(), model().faces, scene.camera, 800, 800);
    benchmark::DoNotOptimize(r.triangle().data());
  }
}
BENCHMARK(BM_RenderSilhouette)->Unit(benchmark::kMillisecond);

void BM_FitImage(benchmark::State& state) {
  static const Scene scene;
  const BodyFitter fitter(model());
  BodyFitInput input;
  input.camera = scene.camera;
  input.keypoints = &scene.keypoints;
  if (state.range(0)) {
    input.mask = scene.mask.data();
    input.mask_width = input.mask_height = 800;
  }
  for (auto _ : state) benchmark::DoNotOptimize(fitter.fit(input).shape.data());
}
BENCHMARK(BM_FitImage)->Arg(0)->Arg(1)->ArgName("silhouette")->Unit(benchmark::kMillisecond);

// A video frame started from the previous frame's fit; known_shape: once the person's shape has settled
// (monobody run holds it fixed after the first frames).
void BM_FitWarmStartedFrame(benchmark::State& state) {
  static const Scene scene;
  const BodyFitter fitter(model());
  BodyFitInput input;
  input.camera = scene.camera;
  input.keypoints = &scene.keypoints;
  input.mask = scene.mask.data();
  input.mask_width = input.mask_height = 800;
  const BodyPose previous = fitter.fit(input);
  input.initial = &previous;
  if (state.range(0)) input.shape = &previous.shape;
  for (auto _ : state) benchmark::DoNotOptimize(fitter.fit(input).shape.data());
}
BENCHMARK(BM_FitWarmStartedFrame)->Arg(0)->Arg(1)->ArgName("known_shape")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace monobody

BENCHMARK_MAIN();
