// Speed of the lifter's network: per-pose inference cost, batched, one thread.
#include <benchmark/benchmark.h>

#include "monobody/mlp.hpp"

namespace {

void BM_MlpForward(benchmark::State& state) {
  const int hidden = int(state.range(0)), batch = int(state.range(1)), inputs = int(state.range(2));
  monobody::set_blas_threads(1);
  monobody::Mlp mlp(monobody::MlpWeights::initialise({inputs, 48, hidden, 2}, 1));
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(inputs, batch);
  Eigen::MatrixXf y(48, batch);
  for (auto _ : state) {
    mlp.forward(x, y);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["us_per_pose"] =
      benchmark::Counter(double(batch) * 1e-6, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
// Inputs: 36 (the base layout) and 309 (with the apparent size and the ordinal relations, mlp_lifter.hpp).
BENCHMARK(BM_MlpForward)->ArgsProduct({{512, 768, 1024}, {1, 64, 256}, {36}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MlpForward)->ArgsProduct({{512, 704}, {1, 256, 512}, {309}})->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
