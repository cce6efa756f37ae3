#include "monobody/mlp_train.hpp"

#include <cmath>

#include "blas.hpp"
#include "monobody/error.hpp"

namespace monobody {

MlpTrainer::MlpTrainer(MlpWeights initial, const MlpTrainOptions& options)
    : weights_(std::move(initial)), options_(options), rng_(options.seed) {
  if (int(weights_.layers.size()) != weights_.spec.layer_count()) throw Error("MLP has the wrong number of layers");
  for (const auto& l : weights_.layers) {
    DenseLayer zero{Eigen::MatrixXf::Zero(l.weight.rows(), l.weight.cols()), Eigen::VectorXf::Zero(l.bias.size())};
    grad_.push_back(zero);
    adam_m_.push_back(zero);
    adam_v_.push_back(zero);
  }
  const int hidden_layers = 1 + 2 * weights_.spec.blocks;
  out_.resize(hidden_layers);
  gate_.resize(hidden_layers);
  stream_.resize(weights_.spec.blocks + 1);
}

void MlpTrainer::forward(const Eigen::Ref<const Eigen::MatrixXf>& x, bool train) {
  const MlpSpec& s = weights_.spec;
  const Eigen::Index n = x.cols();
  const auto& L = weights_.layers;
  const float keep = 1.0f - (train ? options_.dropout : 0.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);

  // A hidden layer: out = relu(W in + b) * mask / keep, gate = d out / d pre-activation.
  auto hidden = [&](int l, const Eigen::MatrixXf& in) {
    Eigen::MatrixXf& out = out_[l];
    Eigen::MatrixXf& gate = gate_[l];
    out.resize(s.hidden, n);
    gate.resize(s.hidden, n);
    blas::gemm(false, false, 1.0f, L[l].weight, in, 0.0f, out);
    out.colwise() += L[l].bias;
    if (keep < 1.0f) {
      for (Eigen::Index i = 0; i < out.size(); ++i) {
        const float g = (out.data()[i] > 0.0f && uniform(rng_) < keep) ? 1.0f / keep : 0.0f;
        gate.data()[i] = g;
        out.data()[i] *= g;
      }
    } else {
      gate = (out.array() > 0.0f).cast<float>();
      out = out.cwiseMax(0.0f);
    }
  };

  Eigen::MatrixXf input = x;  // hidden() takes a plain matrix; one copy per step is negligible next to GEMMs
  hidden(0, input);
  stream_[0] = out_[0];
  for (int b = 0; b < s.blocks; ++b) {
    hidden(1 + 2 * b, stream_[b]);
    hidden(2 + 2 * b, out_[1 + 2 * b]);
    stream_[b + 1] = stream_[b] + out_[2 + 2 * b];
  }
  prediction_.resize(s.outputs, n);
  blas::gemm(false, false, 1.0f, L.back().weight, stream_[s.blocks], 0.0f, prediction_);
  prediction_.colwise() += L.back().bias;
}

void MlpTrainer::backward(const Eigen::Ref<const Eigen::MatrixXf>& x) {
  const MlpSpec& s = weights_.spec;
  const auto& L = weights_.layers;
  const Eigen::Index n = x.cols();
  const int last = int(L.size()) - 1;
  // d loss / d prediction is in grad_y_.
  blas::gemm(false, true, 1.0f, grad_y_, stream_[s.blocks], 0.0f, grad_[last].weight);
  grad_[last].bias = grad_y_.rowwise().sum();
  grad_h_.resize(s.hidden, n);
  blas::gemm(true, false, 1.0f, L[last].weight, grad_y_, 0.0f, grad_h_);
  for (int b = s.blocks - 1; b >= 0; --b) {
    const int l1 = 1 + 2 * b, l2 = 2 + 2 * b;
    grad_z_ = grad_h_.cwiseProduct(gate_[l2]);
    blas::gemm(false, true, 1.0f, grad_z_, out_[l1], 0.0f, grad_[l2].weight);
    grad_[l2].bias = grad_z_.rowwise().sum();
    grad_t_.resize(s.hidden, n);
    blas::gemm(true, false, 1.0f, L[l2].weight, grad_z_, 0.0f, grad_t_);
    grad_t_ = grad_t_.cwiseProduct(gate_[l1]);
    blas::gemm(false, true, 1.0f, grad_t_, stream_[b], 0.0f, grad_[l1].weight);
    grad_[l1].bias = grad_t_.rowwise().sum();
    blas::gemm(true, false, 1.0f, L[l1].weight, grad_t_, 1.0f, grad_h_);  // skip path + block path
  }
  grad_z_ = grad_h_.cwiseProduct(gate_[0]);
  blas::gemm(false, true, 1.0f, grad_z_, x, 0.0f, grad_[0].weight);
  grad_[0].bias = grad_z_.rowwise().sum();
}

void MlpTrainer::adam_update() {
  ++steps_;
  const float c1 = 1.0f - std::pow(options_.beta1, float(steps_));
  const float c2 = 1.0f - std::pow(options_.beta2, float(steps_));
  const float lr = options_.learning_rate, b1 = options_.beta1, b2 = options_.beta2, eps = options_.epsilon;
  const float decay = 1.0f - lr * options_.weight_decay;
  auto update = [&](auto& w, const auto& g, auto& m, auto& v, bool decayed) {
    m = b1 * m + (1.0f - b1) * g;
    v = b2 * v + (1.0f - b2) * g.cwiseAbs2();
    if (decayed) w *= decay;
    w.array() -= lr * (m.array() / c1) / ((v.array() / c2).sqrt() + eps);
  };
  for (std::size_t l = 0; l < weights_.layers.size(); ++l) {
    update(weights_.layers[l].weight, grad_[l].weight, adam_m_[l].weight, adam_v_[l].weight, true);
    update(weights_.layers[l].bias, grad_[l].bias, adam_m_[l].bias, adam_v_[l].bias, false);
  }
}

float MlpTrainer::step(const Eigen::Ref<const Eigen::MatrixXf>& x, const Eigen::Ref<const Eigen::MatrixXf>& y) {
  const float loss = compute_gradients(x, y);
  adam_update();
  return loss;
}

float MlpTrainer::compute_gradients(const Eigen::Ref<const Eigen::MatrixXf>& x,
                                    const Eigen::Ref<const Eigen::MatrixXf>& y) {
  if (x.rows() != weights_.spec.inputs || y.rows() != weights_.spec.outputs || x.cols() != y.cols() || x.cols() == 0)
    throw Error("MLP training batch has the wrong shape");
  forward(x, true);
  const float n = float(x.cols());
  grad_y_ = prediction_ - y;
  const float loss = grad_y_.squaredNorm() / n;
  grad_y_ *= 2.0f / n;
  backward(x);
  return loss;
}

float MlpTrainer::evaluate(const Eigen::Ref<const Eigen::MatrixXf>& x, const Eigen::Ref<const Eigen::MatrixXf>& y) {
  forward(x, false);
  return (prediction_ - y).squaredNorm() / float(x.cols());
}

}  // namespace monobody
