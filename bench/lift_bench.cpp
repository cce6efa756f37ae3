// Speed of the sparse lifter per pose: convex relaxation + refinement, single-threaded, on the
// Stacked-Hourglass detections of Human3.6M S9 (shared data) with the committed K = 128 and K = 64 dictionaries.
//   build/bench/lift_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <filesystem>

#include "monobody/files.hpp"
#include "monobody/lift.hpp"
#include "monobody/npy.hpp"

namespace {

using namespace monobody;

std::vector<Keypoints2D> s9_detections() {
  static const std::vector<Keypoints2D> poses = [] {
    std::vector<Keypoints2D> out;
    const auto dir = shared_data_dir() / "h36m" / "S9";
    for (const char* seq : {"Directions", "Eating", "Phoning", "SittingDown", "Walking"}) {
      const auto path = dir / (std::string(seq) + ".54138969.sh2d.npy");
      if (!std::filesystem::exists(path)) continue;
      const NpyArray<double> a = read_npy<double>(path);
      for (std::int64_t f = 0; f < a.shape[0]; f += 20) {
        Keypoints2D kp = Keypoints2D::zeros(JointSet::Mpii16);
        for (int j = 0; j < 16; ++j) kp.xy.col(j) << a.at({f, j, 0}), a.at({f, j, 1});
        kp.confidence.setOnes();
        out.push_back(map_joints(kp, JointSet::H36m17));
      }
    }
    return out;
  }();
  return poses;
}

void lift(benchmark::State& state, const std::string& dictionary, int starts) {
  const auto& poses = s9_detections();
  if (poses.empty()) {
    state.SkipWithError("shared data absent: h36m/S9");
    return;
  }
  const PoseDictionary dict = read_pose_dictionary(std::filesystem::path(MONOBODY_SOURCE_DIR) / dictionary);
  SparseLiftOptions options;
  options.refine_starts = starts;
  const SparsePoseSolver solver(dict, options);
  std::size_t i = 0;
  double admm = 0, refine = 0, count = 0;
  for (auto _ : state) {
    const Keypoints2D& kp = poses[i++ % poses.size()];
    const SparsePose pose = solver.solve(kp.xy, kp.confidence);
    benchmark::DoNotOptimize(pose.joints.data());
    admm += pose.admm_iterations;
    refine += pose.refine_iterations;
    ++count;
  }
  state.counters["admm_iterations"] = admm / count;
  state.counters["refine_iterations"] = refine / count;
}

BENCHMARK_CAPTURE(lift, cmu_k128, std::string("models/lift/cmu-k128.json"), 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(lift, cmu_k128_one_start, std::string("models/lift/cmu-k128.json"), 1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(lift, cmu_k64, std::string("models/lift/cmu-k64.json"), 3)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
