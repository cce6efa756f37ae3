#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/mlp.hpp"
#include "monobody/mlp_train.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

Eigen::MatrixXf random_matrix(int rows, int cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n;
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = n(rng);
  return m;
}

TEST(MlpTrainer, GradientsMatchFiniteDifferences) {
  const MlpSpec spec{3, 2, 6, 2};
  MlpTrainer trainer(MlpWeights::initialise(spec, 5), {});
  // Biases away from zero so that no ReLU sits exactly at its kink.
  for (auto& l : trainer.weights().layers) l.bias.setConstant(0.05f);
  const Eigen::MatrixXf x = random_matrix(3, 4, 1), y = random_matrix(2, 4, 2);
  trainer.compute_gradients(x, y);
  const std::vector<DenseLayer> analytic = trainer.gradients();
  int checked = 0;
  for (std::size_t l = 0; l < analytic.size(); ++l) {
    for (Eigen::Index i = 0; i < analytic[l].weight.size(); i += 3) {
      float& w = trainer.weights().layers[l].weight.data()[i];
      const float saved = w, h = 1e-3f;
      w = saved + h;
      const double up = trainer.evaluate(x, y);
      w = saved - h;
      const double down = trainer.evaluate(x, y);
      w = saved;
      const double numeric = (up - down) / (2 * h);
      // float32 central differences: agreement to ~1e-3 relative plus an absolute floor.
      EXPECT_NEAR(analytic[l].weight.data()[i], numeric, 2e-3 + 2e-2 * std::abs(numeric)) << "layer " << l << " w" << i;
      ++checked;
    }
  }
  EXPECT_GT(checked, 30);
}

TEST(MlpTrainer, LearnsANonlinearFunction) {
  // y = (sin(2 x0) + x1^2, x0 x2): not linear, so a model that does not train cannot pass.
  const int n = 2048;
  Eigen::MatrixXf x = random_matrix(3, n, 3), y(2, n);
  for (int i = 0; i < n; ++i) y.col(i) << std::sin(2 * x(0, i)) + x(1, i) * x(1, i), x(0, i) * x(2, i);
  MlpTrainer trainer(MlpWeights::initialise({3, 2, 64, 1}, 7), {.learning_rate = 3e-3f});
  const float initial = trainer.evaluate(x, y);
  for (int epoch = 0; epoch < 60; ++epoch)
    for (int b = 0; b < n; b += 128) trainer.step(x.middleCols(b, 128), y.middleCols(b, 128));
  const float final_loss = trainer.evaluate(x, y);
  // The targets' variance is ~3.3; a linear fit leaves ~1.8. A working MLP gets far below both.
  EXPECT_GT(initial, 1.0f);
  EXPECT_LT(final_loss, 0.05f) << "initial " << initial;
}

TEST(Mlp, RuntimeMatchesTrainingCodeAndSurvivesSaveLoad) {
  const MlpSpec spec{34, 48, 128, 2};
  MlpWeights w = MlpWeights::initialise(spec, 11);
  w.in_mean = Eigen::VectorXf::LinSpaced(34, -1, 1);
  w.in_std = Eigen::VectorXf::Constant(34, 2.0f);
  w.out_mean = Eigen::VectorXf::LinSpaced(48, 0, 100);
  w.out_std = Eigen::VectorXf::Constant(48, 50.0f);
  w.metadata["data"] = "synthetic";
  const Eigen::MatrixXf x = random_matrix(34, 7, 4);

  MlpTrainer trainer(w, {});
  const Eigen::MatrixXf xn = (x.colwise() - w.in_mean).array().colwise() / w.in_std.array();
  trainer.evaluate(xn, Eigen::MatrixXf::Zero(48, 7));
  // The trainer's prediction is in normalised units: the runtime must equal it after de-normalising.
  Mlp runtime(w);
  Eigen::MatrixXf y(48, 7);
  runtime.forward(x, y);
  // Loss of the runtime output, mapped back to normalised units, against zero equals the trainer's loss.
  const Eigen::MatrixXf yn = (y.colwise() - w.out_mean).array().colwise() / w.out_std.array();
  EXPECT_NEAR(yn.squaredNorm() / 7, trainer.evaluate(xn, Eigen::MatrixXf::Zero(48, 7)), 1e-3);
  // The buffer-free per-pose forward agrees with the batched runtime, for one column and for several.
  EXPECT_LT((mlp_forward(w, x) - y).cwiseAbs().maxCoeff(), 1e-3f);
  EXPECT_LT((mlp_forward(w, x.col(3)) - y.col(3)).cwiseAbs().maxCoeff(), 1e-3f);
  EXPECT_THROW(mlp_forward(w, x.topRows(33)), Error);

  const auto dir = test::temp_dir("mlp");
  save_mlp(dir / "f32.mlp", w, WeightPrecision::Float32);
  save_mlp(dir / "f16.mlp", w, WeightPrecision::Float16);
  Mlp f32(load_mlp(dir / "f32.mlp")), f16(load_mlp(dir / "f16.mlp"));
  Eigen::MatrixXf y32(48, 7), y16(48, 7);
  f32.forward(x, y32);
  f16.forward(x, y16);
  EXPECT_EQ(y32, y) << "float32 files are exact";
  // float16 weights carry ~3 significant digits; outputs of scale 50 move by well under 1 %.
  EXPECT_LT((y16 - y).cwiseAbs().maxCoeff(), 0.5f);
  EXPECT_EQ(f16.weights().metadata["data"], "synthetic");
  EXPECT_LT(std::filesystem::file_size(dir / "f16.mlp"), std::filesystem::file_size(dir / "f32.mlp") * 6 / 10);
}

TEST(Mlp, RejectsCorruptFiles) {
  const auto dir = test::temp_dir("mlp_bad");
  save_mlp(dir / "good.mlp", MlpWeights::initialise({4, 3, 8, 1}, 1));
  const std::string bytes = read_text_file(dir / "good.mlp");
  auto expect_error = [&](const std::string& content, const std::string& message) {
    write_file_atomic(dir / "bad.mlp", content);
    try {
      load_mlp(dir / "bad.mlp");
      ADD_FAILURE() << "expected an error containing '" << message << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  expect_error("hello", "not a monobody MLP file");
  expect_error(bytes.substr(0, bytes.size() - 10), "truncated");
  std::string flipped = bytes;
  flipped[flipped.size() - 5] ^= 0x40;
  expect_error(flipped, "checksum mismatch");
  std::string header = bytes;
  header[20] = '#';
  expect_error(header, "corrupt MLP file");
  EXPECT_THROW(load_mlp(dir / "missing.mlp"), Error);
}

}  // namespace
}  // namespace monobody
