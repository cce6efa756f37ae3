// A residual multi-layer perceptron (the learned lifter's network), its file format and fast inference.
//
//   x' = (x - in_mean) / in_std
//   h0 = relu(W0 x' + b0)
//   h_{k+1} = h_k + relu(W_{2k+2} relu(W_{2k+1} h_k + b_{2k+1}) + b_{2k+2})      for each residual block k
//   y  = (W_out h_B + b_out) * out_std + out_mean
//
// Products run on OpenBLAS (runtime CPU dispatch), so no special compiler flags are needed for speed.
#pragma once

#include <Eigen/Core>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

namespace monobody {

struct MlpSpec {
  int inputs = 0;
  int outputs = 0;
  int hidden = 1024;
  int blocks = 2;

  int layer_count() const { return 2 + 2 * blocks; }
};

struct DenseLayer {
  Eigen::MatrixXf weight;  // outputs x inputs
  Eigen::VectorXf bias;    // outputs
};

struct MlpWeights {
  MlpSpec spec;
  std::vector<DenseLayer> layers;  // input layer, two per block, output layer
  Eigen::VectorXf in_mean, in_std, out_mean, out_std;
  nlohmann::json metadata = nlohmann::json::object();  // what data the model saw, how it was trained

  // He-initialised weights and identity normalisation; deterministic for a given seed.
  static MlpWeights initialise(const MlpSpec& spec, unsigned seed);
  // in_mean/in_std and out_mean/out_std from sample inputs and targets (columns are samples); each spread is at
  // least 1e-3, so a constant input does not divide by zero.
  void fit_normalisation(const Eigen::Ref<const Eigen::MatrixXf>& inputs, const Eigen::Ref<const Eigen::MatrixXf>& targets);
  std::size_t parameter_count() const;
};

enum class WeightPrecision { Float32, Float16 };

// Versioned binary file: magic, a JSON header (spec, normalisation, metadata, CRC-32 of the weights), weights.
// load_mlp throws monobody::Error for a missing, truncated or corrupt file.
void save_mlp(const std::filesystem::path& path, const MlpWeights& weights,
              WeightPrecision precision = WeightPrecision::Float16);
MlpWeights load_mlp(const std::filesystem::path& path);

// Inference. Keeps its work buffers between calls: no allocation once it has seen the largest batch.
class Mlp {
 public:
  explicit Mlp(MlpWeights weights);
  const MlpWeights& weights() const { return weights_; }
  // inputs: spec.inputs x n (column per sample); outputs: spec.outputs x n.
  void forward(const Eigen::Ref<const Eigen::MatrixXf>& inputs, Eigen::Ref<Eigen::MatrixXf> outputs);

 private:
  MlpWeights weights_;
  Eigen::MatrixXf x_, h_, t_, u_;  // grown to the largest batch seen, used through leftCols(n)
};

// A few samples (one per column) through shared weights, without work buffers: safe to call from several threads
// at once (Mlp keeps buffers, so each thread would need its own). Allocates; for per-pose use (a pose and its
// mirror image, say), not for batches.
Eigen::MatrixXf mlp_forward(const MlpWeights& weights, const Eigen::Ref<const Eigen::MatrixXf>& inputs);

// OpenBLAS's thread count is process-wide; per-pose inference wants 1, training wants all cores.
void set_blas_threads(int threads);

}  // namespace monobody
