// Speed of the sparse lifter per pose, single-threaded, on the Stacked-Hourglass detections of Human3.6M S9
// (shared data, camera 54138969, every 20th frame of five sequences):
//   lift/...    the solver alone (convex relaxation + refinement, weak perspective) with the committed K = 128
//               and K = 64 dictionaries (h36m_k128_sh_alpha01: the recipe for corrected detections);
//   lifter/...  SparseLifter with the known camera (undistortion, the solver, and the perspective refinement
//               with Ceres; `weak`: without it; `flip`: the mirror image too, as `monobody eval h36m` runs it);
//   correction/...  the committed Stacked-Hourglass -> Human3.6M keypoint correction alone (its networks on the
//               detections and their mirror image), which `--correction` adds before the lifter.
// Besides the mean time, each benchmark reports, from one extra untimed pass over all the poses: the per-pose
// time's percentiles (p10/p50/p90/p99/max, ms), the mean ADMM and refinement iterations and the mean final
// objective (normalised units; lower is better, a guard that a faster solver still finds as good optima).
//   build/bench/lift_bench [--benchmark_filter=...] [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "monobody/files.hpp"
#include "monobody/h36m_data.hpp"
#include "monobody/keypoint_correction.hpp"
#include "monobody/lift.hpp"

namespace {

using namespace monobody;

struct S9Detections {
  std::vector<Keypoints2D> poses;     // H36M-17, pixels
  std::vector<Keypoints2D> detected;  // the same, as detected (MPII-16)
  PinholeCamera<double> camera;
};

const S9Detections& s9_detections() {
  static const S9Detections data = [] {
    S9Detections out;
    const auto dir = shared_data_dir() / "h36m";
    if (!std::filesystem::exists(dir / "S9")) return out;
    const std::vector<std::string> wanted = {"Directions", "Eating", "Phoning", "SittingDown", "Walking"};
    for (const H36mSequence& seq : load_h36m(dir, {"S9"})) {
      if (std::find(wanted.begin(), wanted.end(), seq.name) == wanted.end()) continue;
      out.camera = seq.cameras[0].intrinsics;
      const NpyArray<float> a = seq.detections(0);
      for (std::int64_t f = 0; f < a.shape[0]; f += 20) {
        Keypoints2D kp = Keypoints2D::zeros(JointSet::Mpii16);
        for (int j = 0; j < 16; ++j) kp.xy.col(j) << a.at({f, j, 0}), a.at({f, j, 1});
        kp.confidence.setOnes();
        out.poses.push_back(map_joints(kp, JointSet::H36m17));
        out.detected.push_back(kp);
      }
    }
    return out;
  }();
  return data;
}

// Times `solve(pose) -> SparsePose` over the poses in turn, then reports the distribution from one more pass.
template <typename Solve>
void run(benchmark::State& state, const std::vector<Keypoints2D>& poses, Solve solve) {
  if (poses.empty()) {
    state.SkipWithError("shared data absent: h36m/S9");
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const SparsePose pose = solve(poses[i++ % poses.size()]);
    benchmark::DoNotOptimize(pose.joints.data());
  }
  std::vector<double> ms;
  double admm = 0, refine = 0, objective = 0;
  for (const Keypoints2D& kp : poses) {
    const auto start = std::chrono::steady_clock::now();
    const SparsePose pose = solve(kp);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    admm += pose.admm_iterations;
    refine += pose.refine_iterations;
    objective += pose.objective;
  }
  const double n = double(poses.size());
  std::sort(ms.begin(), ms.end());
  auto percentile = [&](double p) { return ms[std::min(ms.size() - 1, std::size_t(p * double(ms.size())))]; };
  state.counters["p10_ms"] = percentile(0.10);
  state.counters["p50_ms"] = percentile(0.50);
  state.counters["p90_ms"] = percentile(0.90);
  state.counters["p99_ms"] = percentile(0.99);
  state.counters["max_ms"] = ms.back();
  state.counters["admm_iterations"] = admm / n;
  state.counters["refine_iterations"] = refine / n;
  state.counters["objective"] = objective / n;
}

PoseDictionary dictionary(const std::string& path) {
  return read_pose_dictionary(std::filesystem::path(MONOBODY_SOURCE_DIR) / path);
}

// `alpha`: the l1 weight, when not the solver's default.
void lift(benchmark::State& state, const std::string& path, int starts, double alpha = 0) {
  const PoseDictionary dict = dictionary(path);
  SparseLiftOptions options;
  options.refine_starts = starts;
  if (alpha > 0) options.alpha = alpha;
  const SparsePoseSolver solver(dict, options);
  run(state, s9_detections().poses, [&](const Keypoints2D& kp) { return solver.solve(kp.xy, kp.confidence); });
}

// The lifter with the known camera; `perspective`: refined under full perspective (the default); `flip`: the
// mirror image lifted too and averaged in (the default).
void lifter(benchmark::State& state, const std::string& path, bool perspective, bool flip) {
  SparseLifterOptions options;
  options.perspective = perspective;
  options.flip_average = flip;
  const SparseLifter lifter(dictionary(path), options);
  const S9Detections& data = s9_detections();
  run(state, data.poses, [&](const Keypoints2D& kp) {
    SparsePose pose;
    benchmark::DoNotOptimize(lifter.lift(kp, &data.camera, pose).joints.xyz.data());
    return pose;
  });
}

void correction(benchmark::State& state, const std::string& path) {
  const KeypointCorrection c = read_keypoint_correction(std::filesystem::path(MONOBODY_SOURCE_DIR) / path);
  const std::vector<Keypoints2D>& poses = s9_detections().detected;
  if (poses.empty()) {
    state.SkipWithError("shared data absent: h36m/S9");
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.apply(poses[i]).xy.data());
    i = (i + 1) % poses.size();
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(correction, sh_ensemble, std::string("models/lift-h36m/sh-correction.json"))
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(correction, sh_one_network, std::string("models/lift-h36m/sh-correction-1.mlp"))
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(lift, cmu_k128, std::string("models/lift/cmu-k128.json"), 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(lift, cmu_k128_one_start, std::string("models/lift/cmu-k128.json"), 1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(lift, cmu_k64, std::string("models/lift/cmu-k64.json"), 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(lift, h36m_k128, std::string("models/lift-h36m/h36m-k128.json"), 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(lift, h36m_k128_sh_alpha01, std::string("models/lift-h36m/h36m-k128-sh.json"), 3, 0.1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(lifter, h36m_k128_perspective, std::string("models/lift-h36m/h36m-k128.json"), true, false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(lifter, h36m_k128_perspective_flip, std::string("models/lift-h36m/h36m-k128.json"), true, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(lifter, h36m_k128_weak, std::string("models/lift-h36m/h36m-k128.json"), false, false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(lifter, cmu_k128_perspective, std::string("models/lift/cmu-k128.json"), true, false)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
