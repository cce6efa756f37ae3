// Builds monobody's statistical body model from the CC0 MakeHuman assets (see body.hpp and
// models/body/README.md). Facts used (from the shared data's README): base.obj is in decimetres with y up,
// z front and x to the body's left; a macro target's weight is the product over its file-name tokens of
// values derived from the sliders; joints of the cmu_mb rig are means of `joint-*` helper cubes.
#include <Eigen/Eigenvalues>
#include <Eigen/Cholesky>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "monobody/body.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/npy.hpp"
#include "body_retarget.hpp"

namespace monobody {
namespace fs = std::filesystem;

namespace {

constexpr double kDecimetre = 0.1;

// --- base mesh ------------------------------------------------------------------------------------------

struct BaseMesh {
  Eigen::Matrix3Xd vertices;                          // all 19,158, metres
  std::vector<std::array<int, 4>> body_quads;         // faces of group "body"
  std::map<std::string, std::vector<int>> groups;     // group -> vertex indices (sorted, unique)
};

BaseMesh read_base_mesh(const fs::path& path) {
  const std::string text = read_text_file(path);
  std::istringstream in(text);
  std::vector<Eigen::Vector3d> vertices;
  std::map<std::string, std::set<int>> groups;
  BaseMesh mesh;
  std::string group, line;
  while (std::getline(in, line)) {
    if (line.starts_with("v ")) {
      Eigen::Vector3d v;
      if (std::sscanf(line.c_str() + 2, "%lf %lf %lf", &v.x(), &v.y(), &v.z()) != 3)
        throw Error("malformed vertex in '" + path.string() + "': " + line);
      vertices.push_back(v * kDecimetre);
    } else if (line.starts_with("g ")) {
      group = line.substr(2);
    } else if (line.starts_with("f ")) {
      std::istringstream f(line.substr(2));
      std::vector<int> idx;
      for (std::string token; f >> token;) idx.push_back(std::stoi(token.substr(0, token.find('/'))) - 1);
      for (int i : idx) {
        if (i < 0) throw Error("bad face index in '" + path.string() + "'");
        groups[group].insert(i);
      }
      if (group == "body") {
        if (idx.size() != 4) throw Error("expected quads in the body group of '" + path.string() + "'");
        mesh.body_quads.push_back({idx[0], idx[1], idx[2], idx[3]});
      }
    }
  }
  mesh.vertices.resize(3, Eigen::Index(vertices.size()));
  for (std::size_t i = 0; i < vertices.size(); ++i) mesh.vertices.col(Eigen::Index(i)) = vertices[i];
  for (auto& [name, set] : groups) {
    for (int i : set)
      if (i >= mesh.vertices.cols()) throw Error("face index out of range in '" + path.string() + "'");
    mesh.groups[name] = std::vector<int>(set.begin(), set.end());
  }
  if (mesh.body_quads.empty()) throw Error("'" + path.string() + "' has no 'body' group");
  return mesh;
}

// --- targets ----------------------------------------------------------------------------------------------

struct Target {
  std::vector<int> index;
  std::vector<Eigen::Vector3d> offset;  // metres
};

Target read_target(const fs::path& path) {
  const std::string text = read_text_file(path);
  Target t;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const char* eol = std::find(p, end, '\n');
    if (*p != '#' && eol > p) {
      int i = 0;
      double d[3];
      auto r = std::from_chars(p, eol, i);
      for (double& x : d) {
        while (r.ptr < eol && *r.ptr == ' ') ++r.ptr;
        r = std::from_chars(r.ptr, eol, x);
      }
      if (r.ec != std::errc()) throw Error("malformed line in target '" + path.string() + "'");
      t.index.push_back(i);
      t.offset.emplace_back(d[0] * kDecimetre, d[1] * kDecimetre, d[2] * kDecimetre);
    }
    p = eol + 1;
  }
  return t;
}

// Macro slider values of one character.
struct Sliders {
  double gender, age, muscle, weight, height, proportions, cup, firmness;
  double ethnic[3];  // african, asian, caucasian (sum 1)
};

double token_value(const std::string& token, const Sliders& s) {
  auto high = [](double v) { return std::max(0.0, 2 * v - 1); };
  auto low = [](double v) { return std::max(0.0, 1 - 2 * v); };
  if (token == "male") return s.gender;
  if (token == "female") return 1 - s.gender;
  if (token == "baby" || token == "child" || token == "young" || token == "old") {
    double baby = 0, child = 0, young = 0, old = 0;
    if (s.age < 0.5) {
      baby = std::max(0.0, 1 - 5.333 * s.age);
      young = std::max(0.0, 3.2 * (s.age - 0.1875));
      child = std::max(0.0, std::min(1.0, 5.333 * s.age) - young);
    } else {
      old = std::max(0.0, 2 * s.age - 1);
      young = 1 - old;
    }
    return token == "baby" ? baby : token == "child" ? child : token == "young" ? young : old;
  }
  const std::pair<const char*, double> graded[] = {{"muscle", s.muscle}, {"weight", s.weight}, {"height", s.height},
                                                   {"cup", s.cup}, {"firmness", s.firmness}};
  for (auto [suffix, v] : graded) {
    if (token == std::string("max") + suffix) return high(v);
    if (token == std::string("min") + suffix) return low(v);
    if (token == std::string("average") + suffix) return 1 - std::max(high(v), low(v));
  }
  if (token == "idealproportions") return high(s.proportions);
  if (token == "uncommonproportions") return low(s.proportions);
  if (token == "african") return s.ethnic[0];
  if (token == "asian") return s.ethnic[1];
  if (token == "caucasian") return s.ethnic[2];
  if (token == "universal") return 1.0;
  throw Error("unknown MakeHuman target token '" + token + "'");
}

double macro_weight(const std::string& stem, const Sliders& s) {
  double w = 1.0;
  std::istringstream in(stem);
  for (std::string token; std::getline(in, token, '-') && w != 0.0;) w *= token_value(token, s);
  return w;
}

// A small deterministic generator (SplitMix64), so the model is identical on every platform.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  double uniform(double lo = 0, double hi = 1) {
    state_ += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return lo + (hi - lo) * double(z >> 11) * 0x1.0p-53;
  }

 private:
  std::uint64_t state_;
};

// "LeftUpLeg" -> "left_up_leg", "LHipJoint" -> "l_hip_joint", "Spine1" -> "spine1".
std::string snake_case(const std::string& name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (std::isupper(static_cast<unsigned char>(c)) && i > 0) out += '_';
    out += char(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// The cmu_mb rig's bones in the CMU MotionBuilder BVH order (parents first).
const char* const kBones[] = {
    "Hips", "LHipJoint", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "RHipJoint", "RightUpLeg",
    "RightLeg", "RightFoot", "RightToeBase", "LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftFingerBase", "LeftHandFinger1", "LThumb",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand", "RightFingerBase", "RightHandFinger1", "RThumb"};

// Landmarks defined by MakeHuman helper cubes (their regressors are learned like the joints').
const std::pair<const char*, const char*> kCubeLandmarks[] = {
    {"head_top", "joint-head-2"},       {"left_eye", "joint-l-eye"},         {"right_eye", "joint-r-eye"},
    {"mouth", "joint-mouth"},           {"left_foot_index", "joint-l-toe-2-4"}, {"right_foot_index", "joint-r-toe-2-4"},
    {"left_index", "joint-l-finger-2-4"}, {"right_index", "joint-r-finger-2-4"},
    {"left_pinky", "joint-l-finger-5-4"}, {"right_pinky", "joint-r-finger-5-4"},
    {"left_thumb", "joint-l-finger-1-4"}, {"right_thumb", "joint-r-finger-1-4"}};

}  // namespace

BodyModel build_body_model(const BodyModelBuildOptions& options, BodyModelBuildReport* report) {
  const fs::path& mh = options.makehuman_dir;
  if (options.samples < options.components + 10 || options.components < 1)
    throw Error("need at least components + 10 samples and one component");
  const BaseMesh base = read_base_mesh(mh / "base.obj");
  const long all_vertices = base.vertices.cols();

  // Body vertices: those used by the body group's faces, renumbered in their original order.
  std::vector<int> body_of(std::size_t(all_vertices), -1), body_vertices;
  for (const auto& q : base.body_quads)
    for (int i : q) body_of[std::size_t(i)] = 0;
  for (long i = 0; i < all_vertices; ++i)
    if (body_of[std::size_t(i)] == 0) {
      body_of[std::size_t(i)] = int(body_vertices.size());
      body_vertices.push_back(int(i));
    }
  const long V = long(body_vertices.size());

  // Points whose positions follow from helper geometry: the bone heads, then the cube landmarks.
  const nlohmann::json rig = read_json_file(mh / "rigs" / "cmu_mb" / "rig.cmu_mb.json");
  const int J = int(std::size(kBones));
  std::vector<std::vector<int>> point_sources;
  std::vector<std::string> joint_names;
  std::vector<int> parents;
  auto group_vertices = [&](const std::string& name) {
    auto it = base.groups.find(name);
    if (it == base.groups.end()) throw Error("base.obj has no group '" + name + "'");
    return it->second;
  };
  for (int j = 0; j < J; ++j) {
    if (!rig.contains(kBones[j])) throw Error(std::string("cmu_mb rig has no bone ") + kBones[j]);
    const auto& bone = rig.at(kBones[j]);
    const std::string parent = bone.at("parent").get<std::string>();
    int p = -1;
    for (int k = 0; k < j; ++k)
      if (parent == kBones[k]) p = k;
    if ((j == 0) != (p < 0)) throw Error(std::string("cmu_mb rig: unexpected parent of ") + kBones[j]);
    parents.push_back(p);
    joint_names.push_back(snake_case(kBones[j]));
    const auto& head = bone.at("head");
    if (head.at("strategy") == "CUBE") point_sources.push_back(group_vertices(head.at("cube_name").get<std::string>()));
    else point_sources.push_back(head.at("vertex_indices").get<std::vector<int>>());
  }
  for (auto [name, cube] : kCubeLandmarks) point_sources.push_back(group_vertices(cube));
  const int P = int(point_sources.size());

  // Targets: every macro target, and the measurement targets (which add shape variety the sliders lack).
  std::vector<std::pair<std::string, Target>> macro_targets, measure_targets;
  for (const char* folder : {"targets/macrodetails", "targets/macrodetails/height", "targets/macrodetails/proportions",
                             "targets/breast", "targets/measure"}) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(mh / folder))
      if (e.is_regular_file() && e.path().string().ends_with(".target.gz")) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string stem = f.filename().string();
      stem.resize(stem.size() - std::string(".target.gz").size());
      Target t = read_target(f);
      for (int i : t.index)
        if (i < 0 || i >= all_vertices) throw Error("target '" + f.string() + "' has a vertex index out of range");
      (stem.starts_with("measure-") ? measure_targets : macro_targets).emplace_back(stem, std::move(t));
    }
  }
  if (macro_targets.size() < 400 || measure_targets.size() != 40)
    throw Error("expected the MakeHuman macro and measurement targets in '" + mh.string() + "/targets'");

  // Sample adult characters (18-90 years) and build their meshes.
  Random random(options.seed);
  const int N = options.samples;
  constexpr int kSemantics = 6;
  Eigen::MatrixXd X(3 * V, N);               // body vertices per sample (column)
  Eigen::MatrixXd points(3 * P, N);
  Eigen::MatrixXd semantics(kSemantics + 1, N);
  Eigen::Matrix3Xd mesh(3, all_vertices);
  for (int n = 0; n < N; ++n) {
    Sliders s{};
    s.gender = random.uniform();
    s.age = random.uniform(0.354, 1.0);
    s.muscle = random.uniform();
    s.weight = random.uniform();
    s.height = random.uniform();
    s.proportions = random.uniform();
    s.cup = random.uniform();
    s.firmness = random.uniform();
    double total = 0;
    for (double& e : s.ethnic) total += (e = -std::log(1e-12 + random.uniform()));  // Dirichlet(1, 1, 1)
    for (double& e : s.ethnic) e /= total;
    mesh = base.vertices;
    for (const auto& [stem, t] : macro_targets) {
      const double w = macro_weight(stem, s);
      if (w == 0.0) continue;
      for (std::size_t k = 0; k < t.index.size(); ++k) mesh.col(t.index[k]) += w * t.offset[k];
    }
    for (std::size_t m = 0; m + 1 < measure_targets.size(); m += 2) {  // sorted: "<name>-decr", "<name>-incr"
      const double v = random.uniform(-0.5, 0.5);
      const Target& t = measure_targets[v < 0 ? m : m + 1].second;
      for (std::size_t k = 0; k < t.index.size(); ++k) mesh.col(t.index[k]) += std::abs(v) * t.offset[k];
    }
    for (long v = 0; v < V; ++v) X.block<3, 1>(3 * v, n) = mesh.col(body_vertices[std::size_t(v)]);
    for (int p = 0; p < P; ++p) {
      Eigen::Vector3d sum = Eigen::Vector3d::Zero();
      for (int i : point_sources[std::size_t(p)]) sum += mesh.col(i);
      points.block<3, 1>(3 * p, n) = sum / double(point_sources[std::size_t(p)].size());
    }
    semantics.col(n) << s.gender, s.age, s.muscle, s.weight, s.height, s.proportions, 1.0;
  }

  // PCA through the N x N Gram matrix (N << 3V).
  const Eigen::VectorXd mean = X.rowwise().mean();
  X.colwise() -= mean;
  const Eigen::MatrixXd gram = X.transpose() * X;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  const int K = options.components;
  Eigen::MatrixXd dirs(3 * V, K);   // unit-variance directions: column k = sigma_k * unit direction
  Eigen::MatrixXd coeffs(K, N);
  for (int k = 0; k < K; ++k) {
    const int e = N - 1 - k;  // eigenvalues ascend
    const double lambda = std::max(eig.eigenvalues()[e], 1e-30);
    Eigen::VectorXd unit = X * eig.eigenvectors().col(e) / std::sqrt(lambda);
    Eigen::Index largest;
    unit.cwiseAbs().maxCoeff(&largest);
    if (unit[largest] < 0) unit = -unit;  // a fixed sign, so the output does not depend on the solver's
    const double sigma = std::sqrt(lambda / (N - 1));
    dirs.col(k) = sigma * unit;
    coeffs.row(k) = (unit.transpose() * X) / sigma;
  }
  const double kept = eig.eigenvalues().tail(K).sum() / eig.eigenvalues().sum();

  BodyModel model;
  model.name = "monobody_body_v1";
  model.template_vertices = Eigen::Map<const Eigen::Matrix3Xd>(mean.data(), 3, V);
  model.shape_dirs = dirs;
  model.faces.resize(3, 2 * Eigen::Index(base.body_quads.size()));
  for (std::size_t q = 0; q < base.body_quads.size(); ++q) {
    const auto& f = base.body_quads[q];
    model.faces.col(Eigen::Index(2 * q)) << body_of[std::size_t(f[0])], body_of[std::size_t(f[1])], body_of[std::size_t(f[2])];
    model.faces.col(Eigen::Index(2 * q + 1)) << body_of[std::size_t(f[0])], body_of[std::size_t(f[2])], body_of[std::size_t(f[3])];
  }
  model.joint_names = joint_names;
  model.parents = parents;

  // Semantic map: least squares from the sliders to the coefficients.
  model.semantic_names = {"gender", "age", "muscle", "weight", "height", "proportions"};
  model.semantic_map = (semantics * semantics.transpose()).ldlt().solve(semantics * coeffs.transpose()).transpose();
  const Eigen::MatrixXd semantic_residual = dirs * (model.semantic_map * semantics - coeffs);
  const double semantic_rms = std::sqrt(semantic_residual.squaredNorm() / double(V * N));

  // Points regressed from the K nearest body vertices of the mean shape: least squares over the samples,
  // with the weights constrained to sum to 1 (so the regressor moves with the body) and a small ridge.
  constexpr int kNeighbours = 40;
  std::vector<std::vector<std::pair<int, double>>> regressors(static_cast<std::size_t>(P));
  double regression_sq = 0;
  for (int p = 0; p < P; ++p) {
    const Eigen::Vector3d centre = points.block(3 * p, 0, 3, N).rowwise().mean();
    std::vector<std::pair<double, int>> by_distance;
    for (long v = 0; v < V; ++v) by_distance.emplace_back((mean.segment<3>(3 * v) - centre).squaredNorm(), int(v));
    std::partial_sort(by_distance.begin(), by_distance.begin() + kNeighbours, by_distance.end());
    Eigen::MatrixXd A(3 * N + 1, kNeighbours);
    Eigen::VectorXd b(3 * N + 1);
    for (int k = 0; k < kNeighbours; ++k)
      for (int n = 0; n < N; ++n)
        A.block<3, 1>(3 * n, k) = X.block<3, 1>(3 * by_distance[std::size_t(k)].second, n) +
                                  mean.segment<3>(3 * by_distance[std::size_t(k)].second);
    for (int n = 0; n < N; ++n) b.segment<3>(3 * n) = points.block<3, 1>(3 * p, n);
    constexpr double kSumWeight = 100.0;
    A.row(3 * N).setConstant(kSumWeight);
    b[3 * N] = kSumWeight;
    Eigen::MatrixXd normal = A.transpose() * A;
    normal.diagonal().array() += 1e-6 * normal.diagonal().mean();
    const Eigen::VectorXd r = normal.ldlt().solve(A.transpose() * b);
    regression_sq += (A.topRows(3 * N) * r - b.head(3 * N)).squaredNorm();
    for (int k = 0; k < kNeighbours; ++k) regressors[std::size_t(p)].emplace_back(by_distance[std::size_t(k)].second, r[k]);
  }
  std::vector<Eigen::Triplet<double>> triplets;
  for (int j = 0; j < J; ++j)
    for (auto [v, w] : regressors[std::size_t(j)]) triplets.emplace_back(j, v, w);
  model.joint_regressor.resize(J, V);
  model.joint_regressor.setFromTriplets(triplets.begin(), triplets.end());
  for (std::size_t i = 0; i < std::size(kCubeLandmarks); ++i)
    model.landmarks.push_back({kCubeLandmarks[i].first, regressors[std::size_t(J) + i]});

  // Skinning weights: the rig's weights on the body vertices, the 4 largest per vertex, renormalised.
  const nlohmann::json weights_json = read_json_file(mh / "rigs" / "cmu_mb" / "weights.cmu_mb.json").at("weights");
  std::vector<std::vector<std::pair<double, int>>> influences(static_cast<std::size_t>(V));
  for (int j = 0; j < J; ++j) {
    if (!weights_json.contains(kBones[j])) continue;
    for (const auto& vw : weights_json.at(kBones[j])) {
      const int v = vw.at(0).get<int>();
      if (v < 0 || v >= all_vertices) throw Error("cmu_mb weights: vertex index out of range");
      if (body_of[std::size_t(v)] >= 0) influences[std::size_t(body_of[std::size_t(v)])].emplace_back(vw.at(1).get<double>(), j);
    }
  }
  model.skin_offset.push_back(0);
  for (auto& list : influences) {
    std::sort(list.begin(), list.end(), [](auto a, auto b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    if (list.size() > 4) list.resize(4);
    double sum = 0;
    for (auto [w, j] : list) sum += w;
    if (!(sum > 0)) throw Error("cmu_mb weights: a body vertex has no weight");
    std::sort(list.begin(), list.end(), [](auto a, auto b) { return a.second < b.second; });
    for (auto [w, j] : list) {
      model.skin_joint.push_back(j);
      model.skin_weight.push_back(w / sum);
    }
    model.skin_offset.push_back(int(model.skin_joint.size()));
  }

  // Surface landmarks picked from the mean mesh: the nose tip (frontmost vertex on the midline between the
  // mouth and the eyes), the ears (outermost head vertices at eye height), the heels (backmost foot vertices
  // below the ankle).
  const Eigen::Matrix3Xd rest = model.rest_joints(Eigen::VectorXd());
  auto landmark_centre = [&](const char* name) {
    Eigen::Vector3d c = Eigen::Vector3d::Zero();
    for (auto [v, w] : model.landmarks[std::size_t(model.landmark(name))].vertices) c += w * model.template_vertices.col(v);
    return c;
  };
  const Eigen::Vector3d eye = 0.5 * (landmark_centre("left_eye") + landmark_centre("right_eye"));
  const Eigen::Vector3d mouth = landmark_centre("mouth");
  auto pick = [&](const std::string& name, auto&& allowed, auto&& score) {
    int best = -1;
    double best_score = -1e30;
    for (long v = 0; v < V; ++v) {
      const Eigen::Vector3d x = model.template_vertices.col(v);
      if (allowed(x) && score(x) > best_score) best = int(v), best_score = score(x);
    }
    if (best < 0) throw Error("cannot place the landmark '" + name + "' on the body mesh");
    model.landmarks.push_back({name, {{best, 1.0}}});
  };
  pick("nose", [&](const Eigen::Vector3d& x) { return std::abs(x.x()) < 0.005 && x.y() > mouth.y() && x.y() < eye.y(); },
       [](const Eigen::Vector3d& x) { return x.z(); });
  for (int side : {1, -1}) {
    pick(side > 0 ? "left_ear" : "right_ear",
         [&](const Eigen::Vector3d& x) { return std::abs(x.y() - eye.y()) < 0.02 && std::abs(x.z() - eye.z()) < 0.15 && std::abs(x.x()) < 0.12; },
         [&](const Eigen::Vector3d& x) { return side * x.x(); });
    const Eigen::Vector3d ankle = rest.col(model.joint(side > 0 ? "left_foot" : "right_foot"));
    pick(side > 0 ? "left_heel" : "right_heel",
         [&](const Eigen::Vector3d& x) { return x.y() < ankle.y() - 0.03 && std::abs(x.x() - ankle.x()) < 0.04; },
         [&](const Eigen::Vector3d& x) { return -x.z(); });
  }

  // Pose prior from the CMU motion capture (training split).
  std::vector<fs::path> clips;
  for (const auto& e : fs::recursive_directory_iterator(options.mocap_dir / "train"))
    if (e.is_regular_file() && e.path().string().ends_with(".pos3d.npy")) clips.push_back(e.path());
  std::sort(clips.begin(), clips.end());
  if (clips.empty()) throw Error("no motion capture (*.pos3d.npy) under '" + (options.mocap_dir / "train").string() + "'");
  std::vector<Eigen::VectorXd> poses;
  for (const auto& clip : clips) {
    auto more = retarget_cmu_clip(model, clip, options.mocap_frame_step);
    poses.insert(poses.end(), more.begin(), more.end());
  }
  model.pose_prior = learn_pose_prior(model, poses);

  model.validate();
  if (report) {
    report->explained_variance = kept;
    report->joint_regression_rms_mm = 1000 * std::sqrt(regression_sq / double(N * P));
    report->semantic_fit_rms_mm = 1000 * semantic_rms;
    report->mocap_frames = int(poses.size());
  }
  return model;
}

}  // namespace monobody
