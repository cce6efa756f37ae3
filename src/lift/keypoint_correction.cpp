// The learned detector-to-joint-set correction (keypoint_correction.hpp): normal equations accumulated block by
// block, solved once; applied per pose in a frame normalised for position and size.
#include "monobody/keypoint_correction.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "monobody/mlp_train.hpp"

#include "monobody/error.hpp"
#include "monobody/files.hpp"

namespace monobody {
namespace {

// Centroid and RMS radius of the points; false when a point is missing or they collapse to one point.
bool normalise(const Keypoints2D& kp, Eigen::Matrix2Xd& out, Eigen::Vector2d* centre = nullptr, double* radius = nullptr) {
  if (kp.count_valid() != kp.size()) return false;
  const Eigen::Vector2d c = kp.xy.rowwise().mean();
  const double r = std::sqrt((kp.xy.colwise() - c).colwise().squaredNorm().mean());
  if (!(r > 1e-9) || !std::isfinite(r)) return false;
  out = (kp.xy.colwise() - c) / r;
  if (centre) *centre = c;
  if (radius) *radius = r;
  return true;
}

int feature_count(int sources, bool quadratic) {
  const int n = 2 * sources;
  return n + 1 + (quadratic ? n * (n + 1) / 2 : 0);
}

// The map's input: the normalised source coordinates, 1, and (quadratic) every product of two coordinates.
void features(const Eigen::Matrix2Xd& source, bool quadratic, Eigen::VectorXd& x) {
  const int n = int(2 * source.cols());
  x.resize(feature_count(int(source.cols()), quadratic));
  x.head(n) = source.reshaped();
  x[n] = 1.0;
  if (!quadratic) return;
  int k = n + 1;
  for (int a = 0; a < n; ++a)
    for (int b = a; b < n; ++b) x[k++] = x[a] * x[b];
}

Eigen::Matrix2Xd mirrored(const Eigen::Matrix2Xd& points, JointSet set) {
  const std::vector<int>& partner = skeleton(set).mirror;
  Eigen::Matrix2Xd out(2, points.cols());
  for (Eigen::Index j = 0; j < points.cols(); ++j)
    out.col(j) = Eigen::Vector2d(-points(0, partner[std::size_t(j)]), points(1, partner[std::size_t(j)]));
  return out;
}

// joint_mapping()'s fixed interpolation of normalised points (affine with weights summing to one, so it commutes
// with the normalisation).
Eigen::Matrix2Xd fixed_mapping(const Eigen::Matrix2Xd& source, JointSet from, JointSet to) {
  Keypoints2D kp = Keypoints2D::zeros(from);
  kp.xy = source;
  kp.confidence.setOnes();
  return map_joints(kp, to).xy;
}

// A training pair in the detections' normalised frame: the target is placed by the source's centroid and radius
// (the correction must not see the truth's own position or size). False when a joint is missing on either side.
bool normalised_pair(const Keypoints2D& detected, const Keypoints2D& truth, JointSet from, JointSet to,
                     Eigen::Matrix2Xd& source, Eigen::Matrix2Xd& target) {
  if (detected.joint_set != from || truth.joint_set != to)
    throw Error("keypoint correction: a training pair in the wrong joint sets");
  Eigen::Vector2d centre;
  double radius = 0;
  if (!normalise(detected, source, &centre, &radius) || truth.count_valid() != truth.size()) return false;
  target = (truth.xy.colwise() - centre) / radius;
  return true;
}

}  // namespace

KeypointCorrectionLearner::KeypointCorrectionLearner(JointSet from, JointSet to, bool quadratic)
    : from_(from), to_(to), quadratic_(quadratic) {
  const int inputs = feature_count(skeleton(from).size(), quadratic), outputs = 2 * skeleton(to).size();
  xtx_ = Eigen::MatrixXd::Zero(inputs, inputs);
  block_x_.resize(inputs, kBlock);
  block_y_.resize(outputs, kBlock);
  xty_ = Eigen::MatrixXd::Zero(inputs, outputs);
  yty_ = Eigen::MatrixXd::Zero(outputs, outputs);
}

void KeypointCorrectionLearner::accumulate(const Eigen::Matrix2Xd& source, const Eigen::Matrix2Xd& target) {
  // Pairs are gathered in blocks, and each block enters the normal equations as one matrix product: a rank-1
  // update per pair left the quadratic map's training (561 inputs) memory-bound, 4x slower.
  features(source, quadratic_, x_);
  block_x_.col(block_size_) = x_;
  block_y_.col(block_size_) = target.reshaped();
  if (++block_size_ == block_x_.cols()) flush();
}

void KeypointCorrectionLearner::flush() {
  if (block_size_ == 0) return;  // (Eigen's blocking heuristic divides by the inner size)
  const auto x = block_x_.leftCols(block_size_);
  const auto y = block_y_.leftCols(block_size_);
  xtx_.selfadjointView<Eigen::Lower>().rankUpdate(x);
  xty_.noalias() += x * y.transpose();
  yty_.noalias() += y * y.transpose();
  block_size_ = 0;
}

bool KeypointCorrectionLearner::add(const Keypoints2D& detected, const Keypoints2D& truth) {
  Eigen::Matrix2Xd source, target;
  if (!normalised_pair(detected, truth, from_, to_, source, target)) return false;
  accumulate(source, target);
  accumulate(mirrored(source, from_), mirrored(target, to_));
  ++samples_;
  return true;
}

KeypointCorrection KeypointCorrectionLearner::solve(double ridge) {
  flush();
  const Eigen::Index inputs = xtx_.rows();
  if (samples_ < inputs)
    throw Error("keypoint correction: " + std::to_string(samples_) + " training pairs, need at least " +
                std::to_string(inputs));
  Eigen::MatrixXd gram = xtx_.selfadjointView<Eigen::Lower>();
  const double scale = gram.diagonal().mean();
  gram.diagonal().array() += ridge * scale;
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(gram);
  const Eigen::MatrixXd coefficients = ldlt.solve(xty_);  // inputs x outputs
  if (ldlt.info() != Eigen::Success || !coefficients.allFinite())
    throw Error("keypoint correction: the training pairs do not determine the map");
  KeypointCorrection out;
  out.from = from_;
  out.to = to_;
  out.quadratic = quadratic_;
  out.map = coefficients.transpose();
  out.samples = samples_;
  // Residual sum of squares per output from the normal equations: y'y - 2 a'X'y + a'X'X a.
  const Eigen::MatrixXd xtx = xtx_.selfadjointView<Eigen::Lower>();
  const int targets = skeleton(to_).size();
  out.sigma.resize(targets);
  const double pairs = 2.0 * double(samples_);  // with the mirror images
  for (int j = 0; j < targets; ++j) {
    double ss = 0;
    for (int d = 0; d < 2; ++d) {
      const Eigen::VectorXd a = coefficients.col(2 * j + d);
      ss += yty_(2 * j + d, 2 * j + d) - 2.0 * a.dot(xty_.col(2 * j + d)) + a.dot(xtx * a);
    }
    out.sigma[j] = std::sqrt(std::max(ss, 0.0) / pairs);
  }
  return out;
}

Keypoints2D KeypointCorrection::apply(const Keypoints2D& detected) const {
  if (detected.joint_set != from)
    throw Error("keypoint correction: expects " + std::string(to_string(from)) + " keypoints, got " +
                std::string(to_string(detected.joint_set)));
  Eigen::Vector2d centre;
  double radius = 0;
  Eigen::Matrix2Xd source;
  Keypoints2D out = map_joints(detected, to);
  if (!normalise(detected, source, &centre, &radius)) return out;
  if (!networks.empty()) {
    // The detections and their mirror image, one column each, through every network.
    Eigen::MatrixXf inputs(source.size(), 2);
    inputs.col(0) = source.reshaped().cast<float>();
    inputs.col(1) = mirrored(source, from).reshaped().cast<float>();
    Eigen::Matrix2Xd residual = Eigen::Matrix2Xd::Zero(2, out.size()), mirror_residual = residual;
    for (const auto& network : networks) {
      const Eigen::MatrixXf outputs = mlp_forward(*network, inputs);
      if (outputs.rows() != 2 * out.size()) throw Error("keypoint correction: the network does not fit its joint sets");
      residual += outputs.col(0).cast<double>().reshaped(2, out.size());
      mirror_residual += outputs.col(1).cast<double>().reshaped(2, out.size());
    }
    residual = (residual + mirrored(mirror_residual, to)) / (2.0 * double(networks.size()));
    // `out` already holds the fixed mapping (in pixels: it commutes with the normalisation), so only the
    // networks' residual is added.
    out.confidence.setConstant(detected.confidence.minCoeff());
    out.xy += radius * residual;
    return out;
  }
  Eigen::VectorXd x;
  features(source, quadratic, x);
  if (x.size() != map.cols()) throw Error("keypoint correction: the map does not fit its features");
  const Eigen::VectorXd y = map * x;
  // Every corrected joint is made from every detected one: the least confident detection speaks for all.
  out.confidence.setConstant(detected.confidence.minCoeff());
  for (int j = 0; j < out.size(); ++j) out.xy.col(j) = centre + radius * y.segment<2>(2 * j);
  return out;
}

KeypointCorrectionNetworkLearner::KeypointCorrectionNetworkLearner(JointSet from, JointSet to) : from_(from), to_(to) {}

bool KeypointCorrectionNetworkLearner::add(const Keypoints2D& detected, const Keypoints2D& truth) {
  Eigen::Matrix2Xd source, target;
  if (!normalised_pair(detected, truth, from_, to_, source, target)) return false;
  const Eigen::Matrix2Xd mirrored_source = mirrored(source, from_);
  // The network learns what the fixed mapping gets wrong. Learning the joints themselves measured the same on
  // Human3.6M's held-out S8, but a small ReLU network then spends itself on reproducing the nearly linear map (from
  // a few thousand synthetic pairs it did worse than the linear map, see the tests); the residual is small and is
  // where the nonlinearity is.
  const Eigen::Matrix2Xd residual = target - fixed_mapping(source, from_, to_);
  const Eigen::Matrix2Xd mirrored_residual = mirrored(target, to_) - fixed_mapping(mirrored_source, from_, to_);
  for (const auto& [s, t] : {std::pair{source, residual}, std::pair{mirrored_source, mirrored_residual}}) {
    sources_.insert(sources_.end(), s.data(), s.data() + s.size());
    targets_.insert(targets_.end(), t.data(), t.data() + t.size());
  }
  ++samples_;
  return true;
}

KeypointCorrection KeypointCorrectionNetworkLearner::train(const KeypointCorrectionNetworkOptions& o,
                                                           const std::function<void(long, long)>& progress,
                                                           const std::function<void(int, double)>& on_epoch) {
  const int inputs = 2 * skeleton(from_).size(), outputs = 2 * skeleton(to_).size();
  const Eigen::Index pairs = Eigen::Index(sources_.size()) / inputs;  // with the mirror images
  if (o.batch <= 0 || o.epochs <= 0 || o.hidden <= 0 || o.blocks < 0)
    throw Error("keypoint correction: invalid batch, epochs or network size");
  if (pairs < o.batch)
    throw Error("keypoint correction: " + std::to_string(samples_) + " training pairs, too few for a batch of " +
                std::to_string(o.batch));
  const Eigen::Map<const Eigen::MatrixXf> source(sources_.data(), inputs, pairs);
  const Eigen::Map<const Eigen::MatrixXf> target(targets_.data(), outputs, pairs);
  MlpWeights weights = MlpWeights::initialise({.inputs = inputs, .outputs = outputs, .hidden = o.hidden, .blocks = o.blocks},
                                              o.seed);
  weights.fit_normalisation(source, target);
  MlpTrainer trainer(std::move(weights), {.learning_rate = o.learning_rate, .weight_decay = o.weight_decay,
                                          .dropout = o.dropout, .seed = o.seed});
  std::vector<Eigen::Index> order(static_cast<std::size_t>(pairs));
  std::iota(order.begin(), order.end(), Eigen::Index(0));
  std::mt19937 rng(o.seed);
  const long batches = long(pairs / o.batch), total = batches * o.epochs;
  const double decay = std::pow(double(o.final_learning_rate) / o.learning_rate, 1.0 / double(total));
  Eigen::MatrixXf x(inputs, o.batch), y(outputs, o.batch);
  const MlpWeights& w = trainer.weights();
  long done = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss = 0;
    for (long b = 0; b < batches; ++b, ++done) {
      for (int i = 0; i < o.batch; ++i) {
        const Eigen::Index k = order[std::size_t(b * o.batch + i)];
        x.col(i) = (source.col(k) - w.in_mean).cwiseQuotient(w.in_std);
        y.col(i) = (target.col(k) - w.out_mean).cwiseQuotient(w.out_std);
      }
      loss += trainer.step(x, y);
      trainer.set_learning_rate(float(o.learning_rate * std::pow(decay, double(done + 1))));
      if (progress) progress(done + 1, total);
    }
    if (on_epoch) on_epoch(epoch, loss / double(batches));
  }
  KeypointCorrection out;
  out.from = from_;
  out.to = to_;
  out.samples = samples_;
  auto network = std::make_shared<MlpWeights>(trainer.weights());
  network->metadata = {{"epochs", o.epochs}, {"batch", o.batch}, {"learning_rate", o.learning_rate},
                       {"final_learning_rate", o.final_learning_rate}, {"weight_decay", o.weight_decay},
                       {"dropout", o.dropout}, {"seed", o.seed}};
  // Each target joint's residual RMS distance on the training pairs, as the least-squares map reports it.
  Eigen::VectorXd ss = Eigen::VectorXd::Zero(outputs / 2);
  Mlp mlp(*network);
  for (Eigen::Index k = 0; k < pairs; k += 4096) {
    const Eigen::Index n = std::min<Eigen::Index>(4096, pairs - k);
    Eigen::MatrixXf predicted(outputs, n);
    mlp.forward(source.middleCols(k, n), predicted);
    const Eigen::MatrixXf d = predicted - target.middleCols(k, n);  // (both residuals from the fixed mapping)
    for (int j = 0; j < outputs / 2; ++j) ss[j] += double(d.middleRows(2 * j, 2).colwise().squaredNorm().sum());
  }
  out.sigma = (ss / double(pairs)).cwiseSqrt().cwiseMax(1e-9);
  out.networks = {std::move(network)};
  return out;
}

namespace {
constexpr const char kNetworkKind[] = "monobody keypoint correction";
constexpr const char kEnsembleFormat[] = "monobody-keypoint-correction-ensemble";

bool is_mlp_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[5] = {};
  in.read(head, 5);
  return in && std::string(head, 5) == "MBMLP";
}

KeypointCorrection read_network_correction(const std::filesystem::path& path) {
  const std::string where = "keypoint correction '" + path.string() + "': ";
  auto network = std::make_shared<MlpWeights>(load_mlp(path));
  const nlohmann::json& m = network->metadata;
  if (m.value("kind", "") != kNetworkKind) throw Error(where + "an MLP file, but not a keypoint correction");
  KeypointCorrection c;
  try {
    c.from = parse_joint_set(m.at("from").get<std::string>());
    c.to = parse_joint_set(m.at("to").get<std::string>());
    const auto sigma = m.at("sigma").get<std::vector<double>>();
    c.sigma = Eigen::Map<const Eigen::VectorXd>(sigma.data(), Eigen::Index(sigma.size()));
    c.samples = m.value("samples", 0L);
    c.trained_on = m.value("trained_on", "");
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + e.what());
  } catch (const Error& e) {
    throw Error(where + e.what());
  }
  if (network->spec.inputs != 2 * skeleton(c.from).size() || network->spec.outputs != 2 * skeleton(c.to).size() ||
      c.sigma.size() != skeleton(c.to).size())
    throw Error(where + "the network does not fit its joint sets");
  c.networks = {std::move(network)};
  return c;
}

// {"format": "monobody-keypoint-correction-ensemble", "members": [...]}: the members' networks together.
KeypointCorrection read_correction_ensemble(const std::filesystem::path& path, const nlohmann::json& j) {
  const std::string where = "keypoint correction '" + path.string() + "': ";
  std::vector<std::string> members;
  try {
    members = j.at("members").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + e.what());
  }
  if (members.empty()) throw Error(where + "an ensemble without \"members\"");
  KeypointCorrection out;
  for (const std::string& name : members) {
    const std::filesystem::path member = path.parent_path() / name;
    if (!std::filesystem::is_regular_file(member)) throw Error(where + "member '" + name + "' not found beside it");
    if (!is_mlp_file(member)) throw Error(where + "member '" + name + "' is not a network correction (.mlp)");
    KeypointCorrection c = read_network_correction(member);
    if (out.networks.empty()) {
      out.from = c.from;
      out.to = c.to;
      out.sigma = Eigen::VectorXd::Zero(c.sigma.size());
    } else if (c.from != out.from || c.to != out.to) {
      throw Error(where + "member '" + name + "' corrects other joint sets than the first");
    }
    out.sigma += c.sigma / double(members.size());
    out.samples = std::max(out.samples, c.samples);
    out.trained_on += (out.trained_on.empty() ? "" : "; ") + c.trained_on;
    out.networks.push_back(std::move(c.networks.front()));
  }
  out.trained_on = j.value("trained_on", out.trained_on);  // the listing's, when it says (the members repeat it)
  return out;
}
}  // namespace

KeypointCorrection read_keypoint_correction(const std::filesystem::path& path) {
  if (is_mlp_file(path)) return read_network_correction(path);
  const nlohmann::json j = read_json_file(path);
  const std::string where = "keypoint correction '" + path.string() + "': ";
  if (j.is_object() && j.value("format", "") == kEnsembleFormat)
    return read_correction_ensemble(path, j);
  try {
    if (j.value("format", "") != "monobody-keypoint-correction")
      throw Error(where + "not a keypoint correction (\"format\" must be \"monobody-keypoint-correction\")");
    if (j.value("version", 0) != 1) throw Error(where + "unsupported version");
    KeypointCorrection c;
    try {
      c.from = parse_joint_set(j.at("from").get<std::string>());
      c.to = parse_joint_set(j.at("to").get<std::string>());
    } catch (const Error& e) {
      throw Error(where + e.what());
    }
    const auto rows = j.at("map").get<std::vector<std::vector<double>>>();
    const auto sigma = j.at("sigma").get<std::vector<double>>();
    const std::string kind = j.at("features").get<std::string>();
    if (kind != "linear" && kind != "quadratic") throw Error(where + "\"features\" must be \"linear\" or \"quadratic\"");
    c.quadratic = kind == "quadratic";
    const std::size_t inputs = std::size_t(feature_count(skeleton(c.from).size(), c.quadratic));
    const std::size_t outputs = std::size_t(2 * skeleton(c.to).size());
    if (rows.size() != outputs) throw Error(where + "\"map\" needs " + std::to_string(outputs) + " rows");
    if (sigma.size() != outputs / 2) throw Error(where + "\"sigma\" needs " + std::to_string(outputs / 2) + " values");
    c.map.resize(Eigen::Index(outputs), Eigen::Index(inputs));
    for (std::size_t r = 0; r < outputs; ++r) {
      if (rows[r].size() != inputs) throw Error(where + "every \"map\" row needs " + std::to_string(inputs) + " values");
      for (std::size_t k = 0; k < inputs; ++k) c.map(Eigen::Index(r), Eigen::Index(k)) = rows[r][k];
    }
    c.sigma = Eigen::Map<const Eigen::VectorXd>(sigma.data(), Eigen::Index(sigma.size()));
    if (!c.map.allFinite()) throw Error(where + "\"map\" has a value that is not finite");
    if (!(c.sigma.array() > 0).all() || !c.sigma.allFinite()) throw Error(where + "every \"sigma\" must be positive");
    c.samples = j.value("samples", 0L);
    c.trained_on = j.value("trained_on", "");
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + e.what());
  }
}

void write_keypoint_correction(const std::filesystem::path& path, const KeypointCorrection& c) {
  if (c.networks.size() > 1) {
    if (path.extension() != ".json")
      throw Error("keypoint correction: an ensemble is a JSON file listing its networks, not '" + path.string() + "'");
    nlohmann::json members = nlohmann::json::array();
    for (std::size_t k = 0; k < c.networks.size(); ++k) {
      KeypointCorrection member = c;
      member.networks = {c.networks[k]};
      const std::string name = path.stem().string() + "-" + std::to_string(k + 1) + ".mlp";
      write_keypoint_correction(path.parent_path() / name, member);
      members.push_back(name);
    }
    const nlohmann::json listing = {{"format", kEnsembleFormat}, {"members", members}, {"trained_on", c.trained_on}};
    write_file_atomic(path, listing.dump(1) + "\n");
    return;
  }
  if (!c.networks.empty()) {
    MlpWeights w = *c.networks.front();
    w.metadata["kind"] = kNetworkKind;
    w.metadata["from"] = std::string(to_string(c.from));
    w.metadata["to"] = std::string(to_string(c.to));
    w.metadata["samples"] = c.samples;
    w.metadata["trained_on"] = c.trained_on;
    w.metadata["sigma"] = std::vector<double>(c.sigma.data(), c.sigma.data() + c.sigma.size());
    w.metadata["units"] = "input: the detected joints (x0, y0, x1, ...) and output: the corrected joints, both as "
                          "(pixels - the detections' centroid) / the detections' RMS radius; sigma: residual RMS "
                          "distance per target joint in the same units";
    save_mlp(path, w);
    return;
  }
  nlohmann::json j;
  j["format"] = "monobody-keypoint-correction";
  j["version"] = 1;
  j["from"] = std::string(to_string(c.from));
  j["to"] = std::string(to_string(c.to));
  j["features"] = c.quadratic ? "quadratic" : "linear";
  j["samples"] = c.samples;
  j["trained_on"] = c.trained_on;
  j["units"] = "map: normalised target (x0, y0, x1, ...) = map * [normalised source (x0, y0, ...); 1; (quadratic) "
               "the products s_a s_b, a <= b, a outer and b inner loop], normalised = (pixels - the source's centroid) / "
               "the source's RMS radius; sigma: residual RMS distance per target joint in the same units";
  j["sigma"] = std::vector<double>(c.sigma.data(), c.sigma.data() + c.sigma.size());
  nlohmann::json rows = nlohmann::json::array();
  for (Eigen::Index r = 0; r < c.map.rows(); ++r) {
    std::vector<double> row(std::size_t(c.map.cols()));
    for (Eigen::Index k = 0; k < c.map.cols(); ++k) row[std::size_t(k)] = c.map(r, k);
    rows.push_back(row);
  }
  j["map"] = rows;
  write_file_atomic(path, j.dump(1) + "\n");
}

}  // namespace monobody
