// Speed of the lifter's network: per-pose inference cost, batched, one thread.
#include <benchmark/benchmark.h>

#include "monobody/mlp.hpp"

namespace {

void BM_MlpForward(benchmark::State& state) {
  const int hidden = int(state.range(0)), batch = int(state.range(1));
  monobody::set_blas_threads(1);
  monobody::Mlp mlp(monobody::MlpWeights::initialise({36, 48, hidden, 2}, 1));
  const Eigen::MatrixXf x = Eigen::MatrixXf::Random(36, batch);
  Eigen::MatrixXf y(48, batch);
  for (auto _ : state) {
    mlp.forward(x, y);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["us_per_pose"] =
      benchmark::Counter(double(batch) * 1e-6, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_MlpForward)->ArgsProduct({{512, 768, 1024}, {1, 64, 256}})->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
