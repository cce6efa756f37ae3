// Inference time of each BlazePose network on the XNNPACK backend, at 1 and 2 threads: one invoke() per
// iteration on a fixed input, models loaded once. The median and minimum over repetitions are the figures
// to compare with the peer runtime (../shared/reference/blazepose/ref.mjs prints the same two).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <monobody/nn.hpp>
#include <string>
#include <vector>

namespace {

const char* const kModels[] = {"pose_detection", "pose_landmark_lite", "pose_landmark_full", "pose_landmark_heavy"};

void BM_Inference(benchmark::State& state, const std::string& name, bool own_kernels) {
  const auto path = std::filesystem::path(MONOBODY_SOURCE_DIR) / "models" / (name + ".tflite");
  if (!std::filesystem::exists(path)) {
    state.SkipWithError("model file absent (run scripts/setup.sh)");
    return;
  }
  const int threads = static_cast<int>(state.range(0));
  auto model = monobody::nn::Model::load(path, {monobody::nn::Backend::Xnnpack, threads, own_kernels});
  // A smooth image-like input in the models' ranges ([-1,1] detector, [0,1] landmarks) keeps the
  // activations realistic; speed does not depend on the values (no data-dependent branches in XNNPACK).
  const auto input = model->input(0);
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = 0.5f + 0.4f * static_cast<float>((i * 7919) % 1000) / 1000.0f;
  model->invoke();  // warm-up: first-touch of buffers
  for (auto _ : state) {
    model->invoke();
    benchmark::DoNotOptimize(model->output(0).data());
  }
}

const bool registered = [] {
  // "/xnnpack_only": every operator on XNNPACK, without our kernels for the narrow convolutions.
  for (const char* name : kModels) for (const bool own : {true, false}) {
    benchmark::RegisterBenchmark(own ? name : (std::string(name) + "/xnnpack_only").c_str(), BM_Inference, std::string(name), own)
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->MinTime(0.3)
        ->Repetitions(10)
        // The minimum shows the uncontended speed when the machine is shared (as the peer script's does).
        ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); })
        ->ReportAggregatesOnly(true);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
