// Training the residual MLP of mlp.hpp: mean squared error, dropout, Adam. Used by `monobody train-lifter`.
#pragma once

#include <random>

#include "monobody/mlp.hpp"

namespace monobody {

struct MlpTrainOptions {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
  float weight_decay = 0.0f;  // decoupled (AdamW)
  float dropout = 0.0f;       // probability of dropping a hidden unit during training
  unsigned seed = 1;
};

class MlpTrainer {
 public:
  MlpTrainer(MlpWeights initial, const MlpTrainOptions& options);

  // One Adam step on a batch given in *normalised* units (columns are samples). Returns the batch's mean
  // squared error per sample (sum over outputs).
  float step(const Eigen::Ref<const Eigen::MatrixXf>& inputs, const Eigen::Ref<const Eigen::MatrixXf>& targets);
  // The gradient of the batch loss with respect to every weight, without updating (what step() applies).
  float compute_gradients(const Eigen::Ref<const Eigen::MatrixXf>& inputs,
                          const Eigen::Ref<const Eigen::MatrixXf>& targets);
  const std::vector<DenseLayer>& gradients() const { return grad_; }
  // Mean squared error per sample without updating (no dropout).
  float evaluate(const Eigen::Ref<const Eigen::MatrixXf>& inputs, const Eigen::Ref<const Eigen::MatrixXf>& targets);

  void set_learning_rate(float lr) { options_.learning_rate = lr; }
  float learning_rate() const { return options_.learning_rate; }
  const MlpWeights& weights() const { return weights_; }
  MlpWeights& weights() { return weights_; }

 private:
  void forward(const Eigen::Ref<const Eigen::MatrixXf>& inputs, bool train);

  MlpWeights weights_;
  MlpTrainOptions options_;
  std::mt19937 rng_;
  long steps_ = 0;
  void backward(const Eigen::Ref<const Eigen::MatrixXf>& inputs);
  void adam_update();

  // Per hidden layer: its output after ReLU and dropout, and the derivative of that output with respect to
  // the pre-activation (ReLU gate times dropout mask). stream_[b] is the residual stream entering block b.
  std::vector<Eigen::MatrixXf> out_, gate_, stream_;
  Eigen::MatrixXf prediction_, grad_y_, grad_h_, grad_z_, grad_t_;
  std::vector<DenseLayer> grad_, adam_m_, adam_v_;
};

}  // namespace monobody
