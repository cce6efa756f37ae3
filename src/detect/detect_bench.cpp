// Whole-frame BlazePose timings: detector + one landmark pass per person, on messi5.jpg (one person) and
// basketball1.png (two), per landmark model and thread count; the detector and a landmark pass alone.
//   build/src/detect/monobody_detect_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <filesystem>
#include <iostream>

#include "monobody/detect.hpp"
#include "monobody/image_io.hpp"

namespace {
namespace fs = std::filesystem;
using namespace monobody;

const fs::path kSource = MONOBODY_SOURCE_DIR;

bool inputs_present() {
  return fs::exists(kSource / "models" / "pose_landmark_heavy.tflite") &&
         fs::exists(kSource / "examples" / "data" / "messi5.jpg");
}

PoseDetector make_detector(int model, int threads) {
  return PoseDetector(
      {.model = PoseModel(model), .model_dir = kSource / "models", .segmentation = false, .threads = threads});
}

void whole_frame(benchmark::State& state, const char* photo) {
  if (!inputs_present()) return state.SkipWithError("models or demo inputs absent (run scripts/setup.sh)");
  PoseDetector detector = make_detector(int(state.range(0)), int(state.range(1)));
  const Image image = read_image(kSource / "examples" / "data" / photo);
  std::size_t people = 0;
  for (auto _ : state) people = detector.detect(image.view()).size();
  state.counters["people"] = double(people);
  state.SetLabel(std::string(to_string(PoseModel(state.range(0)))) + ", " + std::to_string(state.range(1)) +
                 " threads");
}

void BM_WholeFrameMessi(benchmark::State& state) { whole_frame(state, "messi5.jpg"); }
void BM_WholeFrameBasketball(benchmark::State& state) { whole_frame(state, "basketball1.png"); }

void BM_Detector(benchmark::State& state) {
  if (!inputs_present()) return state.SkipWithError("models or demo inputs absent (run scripts/setup.sh)");
  PoseDetector detector = make_detector(0, int(state.range(0)));
  const Image image = read_image(kSource / "examples" / "data" / "messi5.jpg");
  for (auto _ : state) benchmark::DoNotOptimize(detector.detect_people(image.view()));
}

void BM_LandmarkPass(benchmark::State& state) {
  if (!inputs_present()) return state.SkipWithError("models or demo inputs absent (run scripts/setup.sh)");
  PoseDetector detector = make_detector(int(state.range(0)), int(state.range(1)));
  const Image image = read_image(kSource / "examples" / "data" / "messi5.jpg");
  const RotatedRect roi{{267.3, 210.4}, 368.3, 368.3, -0.25};
  for (auto _ : state) benchmark::DoNotOptimize(detector.landmarks_in(image.view(), roi));
}

// Args: landmark model (0 lite, 1 full, 2 heavy), threads.
BENCHMARK(BM_WholeFrameMessi)->ArgsProduct({{0, 1, 2}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_WholeFrameBasketball)->ArgsProduct({{1}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Detector)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LandmarkPass)->ArgsProduct({{0, 1, 2}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
