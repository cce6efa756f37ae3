#include "monobody/mlp.hpp"

#include <cblas.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <random>

#include "blas.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"

extern "C" void openblas_set_num_threads(int num_threads);

namespace monobody {
namespace {

constexpr char kMagic[8] = {'M', 'B', 'M', 'L', 'P', '0', '0', '1'};
constexpr int kFormatVersion = 1;

std::vector<float> to_vector(const Eigen::VectorXf& v) { return {v.data(), v.data() + v.size()}; }

Eigen::VectorXf vector_from(const nlohmann::json& j, int expected, const char* what, const std::string& file) {
  if (!j.is_array() || int(j.size()) != expected)
    throw Error("corrupt MLP file '" + file + "': '" + what + "' must have " + std::to_string(expected) + " values");
  Eigen::VectorXf v(expected);
  for (int i = 0; i < expected; ++i) {
    if (!j[i].is_number()) throw Error("corrupt MLP file '" + file + "': '" + what + "' is not numeric");
    v[i] = j[i].get<float>();
  }
  if (!v.allFinite()) throw Error("corrupt MLP file '" + file + "': '" + what + "' is not finite");
  return v;
}

// Shapes of the layers of a spec: (outputs, inputs) each.
std::vector<std::pair<int, int>> layer_shapes(const MlpSpec& s) {
  std::vector<std::pair<int, int>> shapes = {{s.hidden, s.inputs}};
  for (int b = 0; b < 2 * s.blocks; ++b) shapes.emplace_back(s.hidden, s.hidden);
  shapes.emplace_back(s.outputs, s.hidden);
  return shapes;
}

template <typename Block>
void add_bias_relu(Block&& m, const Eigen::VectorXf& bias) {
  m.colwise() += bias;
  m = m.cwiseMax(0.0f);
}

}  // namespace

namespace blas {
void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
           float beta, float* c, int ldc) {
  cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda,
              b, ldb, beta, c, ldc);
}
}  // namespace blas

void set_blas_threads(int threads) { openblas_set_num_threads(std::max(1, threads)); }

void MlpWeights::fit_normalisation(const Eigen::Ref<const Eigen::MatrixXf>& inputs,
                                   const Eigen::Ref<const Eigen::MatrixXf>& targets) {
  auto stats = [](const Eigen::Ref<const Eigen::MatrixXf>& m, Eigen::VectorXf& mean, Eigen::VectorXf& std) {
    mean = m.rowwise().mean();
    std = ((m.colwise() - mean).array().square().rowwise().mean()).sqrt().max(1e-3f);
  };
  stats(inputs, in_mean, in_std);
  stats(targets, out_mean, out_std);
}

MlpWeights MlpWeights::initialise(const MlpSpec& spec, unsigned seed) {
  if (spec.inputs <= 0 || spec.outputs <= 0 || spec.hidden <= 0 || spec.blocks < 0)
    throw Error("invalid MLP shape");
  MlpWeights w;
  w.spec = spec;
  std::mt19937 rng(seed);
  const auto shapes = layer_shapes(spec);
  for (std::size_t l = 0; l < shapes.size(); ++l) {
    auto [out, in] = shapes[l];
    std::normal_distribution<float> normal(0.0f, std::sqrt(2.0f / float(in)));
    DenseLayer layer{Eigen::MatrixXf(out, in), Eigen::VectorXf::Zero(out)};
    for (int c = 0; c < in; ++c)
      for (int r = 0; r < out; ++r) layer.weight(r, c) = normal(rng);
    // The second layer of each residual block starts small, so each block starts close to the identity.
    if (l > 0 && l + 1 < shapes.size() && l % 2 == 0) layer.weight *= 0.1f;
    // The output layer starts at zero: an untrained network predicts the mean of the (normalised) targets.
    if (l + 1 == shapes.size()) layer.weight.setZero();
    w.layers.push_back(std::move(layer));
  }
  w.in_mean = Eigen::VectorXf::Zero(spec.inputs);
  w.in_std = Eigen::VectorXf::Ones(spec.inputs);
  w.out_mean = Eigen::VectorXf::Zero(spec.outputs);
  w.out_std = Eigen::VectorXf::Ones(spec.outputs);
  return w;
}

std::size_t MlpWeights::parameter_count() const {
  std::size_t n = 0;
  for (const auto& l : layers) n += std::size_t(l.weight.size() + l.bias.size());
  return n;
}

void save_mlp(const std::filesystem::path& path, const MlpWeights& w, WeightPrecision precision) {
  std::string payload;
  auto put = [&](const float* data, Eigen::Index n) {
    if (precision == WeightPrecision::Float32) {
      payload.append(reinterpret_cast<const char*>(data), std::size_t(n) * 4);
    } else {
      for (Eigen::Index i = 0; i < n; ++i) {
        const Eigen::half h(data[i]);
        const std::uint16_t bits = Eigen::numext::bit_cast<std::uint16_t>(h);
        payload.append(reinterpret_cast<const char*>(&bits), 2);
      }
    }
  };
  for (const auto& l : w.layers) {
    put(l.weight.data(), l.weight.size());  // column-major
    put(l.bias.data(), l.bias.size());
  }
  nlohmann::json header = {
      {"format", "monobody.mlp"},
      {"version", kFormatVersion},
      {"inputs", w.spec.inputs},
      {"outputs", w.spec.outputs},
      {"hidden", w.spec.hidden},
      {"blocks", w.spec.blocks},
      {"precision", precision == WeightPrecision::Float32 ? "f32" : "f16"},
      {"payload_bytes", payload.size()},
      {"crc32", crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), uInt(payload.size()))},
      {"in_mean", to_vector(w.in_mean)},
      {"in_std", to_vector(w.in_std)},
      {"out_mean", to_vector(w.out_mean)},
      {"out_std", to_vector(w.out_std)},
      {"metadata", w.metadata},
  };
  const std::string text = header.dump();
  std::string file(kMagic, 8);
  const std::uint32_t len = std::uint32_t(text.size());
  file.append(reinterpret_cast<const char*>(&len), 4);
  file += text;
  file += payload;
  write_file_atomic(path, file);
}

MlpWeights load_mlp(const std::filesystem::path& path) {
  const std::string file = read_text_file(path);
  const std::string name = path.string();
  auto fail = [&](const std::string& why) -> Error { return Error("corrupt MLP file '" + name + "': " + why); };
  if (file.size() < 12 || std::memcmp(file.data(), kMagic, 8) != 0) throw fail("not a monobody MLP file");
  std::uint32_t len;
  std::memcpy(&len, file.data() + 8, 4);
  if (file.size() < 12 + std::size_t(len)) throw fail("truncated header");
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(file.substr(12, len));
  } catch (const nlohmann::json::exception&) {
    throw fail("unreadable header");
  }
  MlpWeights w;
  try {
    if (h.at("format") != "monobody.mlp") throw fail("wrong format name");
    if (h.at("version").get<int>() != kFormatVersion) throw fail("unsupported version");
    w.spec = {h.at("inputs").get<int>(), h.at("outputs").get<int>(), h.at("hidden").get<int>(),
              h.at("blocks").get<int>()};
    if (w.spec.inputs <= 0 || w.spec.outputs <= 0 || w.spec.hidden <= 0 || w.spec.blocks < 0 ||
        w.spec.inputs > 100000 || w.spec.outputs > 100000 || w.spec.hidden > 100000 || w.spec.blocks > 100)
      throw fail("implausible network shape");
    const std::string precision = h.at("precision").get<std::string>();
    if (precision != "f16" && precision != "f32") throw fail("unknown precision '" + precision + "'");
    const std::size_t elem = precision == "f16" ? 2 : 4;
    std::size_t expected = 0;
    for (auto [o, i] : layer_shapes(w.spec)) expected += std::size_t(o) * std::size_t(i + 1) * elem;
    if (h.at("payload_bytes").get<std::size_t>() != expected) throw fail("payload size does not match the shape");
    const std::size_t offset = 12 + std::size_t(len);
    if (file.size() - offset != expected)
      throw fail("truncated or padded weights (" + std::to_string(file.size() - offset) + " bytes, expected " +
                 std::to_string(expected) + ")");
    const auto crc = crc32(0L, reinterpret_cast<const Bytef*>(file.data() + offset), uInt(expected));
    if (h.at("crc32").get<unsigned long>() != crc) throw fail("checksum mismatch");
    w.in_mean = vector_from(h.at("in_mean"), w.spec.inputs, "in_mean", name);
    w.in_std = vector_from(h.at("in_std"), w.spec.inputs, "in_std", name);
    w.out_mean = vector_from(h.at("out_mean"), w.spec.outputs, "out_mean", name);
    w.out_std = vector_from(h.at("out_std"), w.spec.outputs, "out_std", name);
    if ((w.in_std.array() <= 0).any()) throw fail("in_std must be positive");
    if (h.contains("metadata")) w.metadata = h.at("metadata");
    const char* p = file.data() + offset;
    auto get = [&](float* dst, Eigen::Index n) {
      for (Eigen::Index i = 0; i < n; ++i, p += elem) {
        if (elem == 4) {
          std::memcpy(dst + i, p, 4);
        } else {
          std::uint16_t bits;
          std::memcpy(&bits, p, 2);
          dst[i] = float(Eigen::numext::bit_cast<Eigen::half>(bits));
        }
      }
    };
    for (auto [o, i] : layer_shapes(w.spec)) {
      DenseLayer l{Eigen::MatrixXf(o, i), Eigen::VectorXf(o)};
      get(l.weight.data(), l.weight.size());
      get(l.bias.data(), l.bias.size());
      if (!l.weight.allFinite() || !l.bias.allFinite()) throw fail("non-finite weights");
      w.layers.push_back(std::move(l));
    }
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("bad header field (") + e.what() + ")");
  }
  return w;
}

Mlp::Mlp(MlpWeights weights) : weights_(std::move(weights)) {
  if (int(weights_.layers.size()) != weights_.spec.layer_count()) throw Error("MLP has the wrong number of layers");
}

void Mlp::forward(const Eigen::Ref<const Eigen::MatrixXf>& inputs, Eigen::Ref<Eigen::MatrixXf> outputs) {
  const MlpSpec& s = weights_.spec;
  const Eigen::Index n = inputs.cols();
  if (inputs.rows() != s.inputs || outputs.rows() != s.outputs || outputs.cols() != n)
    throw Error("MLP forward: expected " + std::to_string(s.inputs) + " x n inputs and " + std::to_string(s.outputs) +
                " x n outputs");
  if (x_.cols() < n) {
    x_.resize(s.inputs, n);
    h_.resize(s.hidden, n);
    t_.resize(s.hidden, n);
    u_.resize(s.hidden, n);
  }
  auto x = x_.leftCols(n);
  auto h = h_.leftCols(n);
  auto t = t_.leftCols(n);
  auto u = u_.leftCols(n);
  x = (inputs.colwise() - weights_.in_mean).array().colwise() / weights_.in_std.array();
  const auto& L = weights_.layers;
  blas::gemm(false, false, 1.0f, L[0].weight, x, 0.0f, h);
  add_bias_relu(h, L[0].bias);
  for (int b = 0; b < s.blocks; ++b) {
    const DenseLayer& l1 = L[1 + 2 * b];
    const DenseLayer& l2 = L[2 + 2 * b];
    blas::gemm(false, false, 1.0f, l1.weight, h, 0.0f, t);
    add_bias_relu(t, l1.bias);
    blas::gemm(false, false, 1.0f, l2.weight, t, 0.0f, u);
    add_bias_relu(u, l2.bias);
    h += u;
  }
  blas::gemm(false, false, 1.0f, L.back().weight, h, 0.0f, outputs);
  outputs = ((outputs.colwise() + L.back().bias).array().colwise() * weights_.out_std.array()).colwise() +
            weights_.out_mean.array();
}

Eigen::MatrixXf mlp_forward(const MlpWeights& w, const Eigen::Ref<const Eigen::MatrixXf>& inputs) {
  const MlpSpec& s = w.spec;
  if (inputs.rows() != s.inputs || int(w.layers.size()) != s.layer_count())
    throw Error("MLP forward: expected " + std::to_string(s.inputs) + " inputs");
  const auto& L = w.layers;
  Eigen::MatrixXf out(s.outputs, inputs.cols());
  // Column by column: a matrix-vector product per layer. (Two columns as one matrix product, through Eigen or
  // OpenBLAS, measured slower: the keypoint correction's three networks on a pose and its mirror image took 138 us
  // this way, 237 to 267 us as matrix products.)
  Eigen::VectorXf x(s.inputs), h(s.hidden), t(s.hidden);
  for (Eigen::Index c = 0; c < inputs.cols(); ++c) {
    x = (inputs.col(c) - w.in_mean).cwiseQuotient(w.in_std);
    h.noalias() = L[0].weight * x;
    h = (h + L[0].bias).cwiseMax(0.0f);
    for (int b = 0; b < s.blocks; ++b) {
      t.noalias() = L[1 + 2 * b].weight * h;
      t = (t + L[1 + 2 * b].bias).cwiseMax(0.0f);
      h += (L[2 + 2 * b].weight * t + L[2 + 2 * b].bias).cwiseMax(0.0f);
    }
    out.col(c) = (L.back().weight * h + L.back().bias).cwiseProduct(w.out_std) + w.out_mean;
  }
  return out;
}

}  // namespace monobody
