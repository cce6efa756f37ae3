#include "monobody/mlp_lifter.hpp"

#include <algorithm>
#include <cmath>

#include "monobody/error.hpp"
#include "monobody/files.hpp"

#include <nlohmann/json.hpp>

namespace monobody {
namespace {

// H36M-17 left/right partners (from the skeleton definition, computed once).
const std::vector<int>& h36m_mirror() { return skeleton(JointSet::H36m17).mirror; }

MlpLifterInputs check_shape(const MlpWeights& w, const std::string& what) {
  MlpLifterInputs layout;
  if (!MlpLifterInputs::from_count(w.spec.inputs, layout) || w.spec.outputs != kMlpLifterOutputs)
    throw Error(what + " is not a lifter network (expected 36, 37, 53 or 54 inputs and " +
                std::to_string(kMlpLifterOutputs) + " outputs)");
  return layout;
}

}  // namespace

bool MlpLifterInputs::from_count(int inputs, MlpLifterInputs& layout) {
  for (const bool depth : {false, true})
    for (const bool size : {false, true})
      for (const bool relations : {false, true})
        if (MlpLifterInputs{depth, size, relations}.count() == inputs) {
          layout = {depth, size, relations};
          return true;
        }
  return false;
}

bool mlp_lifter_features(const Eigen::Matrix2Xd& pixels, const PinholeCamera<double>& camera, float* features,
                         const Eigen::VectorXd* depth, bool apparent_size,
                         const std::vector<OrdinalRelation>* relations) {
  if (pixels.cols() != 17 || !pixels.allFinite()) return false;
  if (depth && (depth->size() != 17 || !depth->allFinite())) return false;
  Eigen::Matrix<double, 2, 17> n;
  for (int j = 0; j < 17; ++j) n.col(j) = camera.normalized(pixels.col(j));
  const Eigen::Vector2d root = n.col(0);
  n.colwise() -= root;
  const double rms = std::sqrt(n.squaredNorm() / 16.0);
  if (!(rms > 1e-9) || !std::isfinite(rms)) return false;
  n /= rms;
  for (int j = 0; j < 17; ++j) {
    features[2 * j] = float(n(0, j));
    features[2 * j + 1] = float(n(1, j));
  }
  features[34] = float(root.x());
  features[35] = float(root.y());
  if (depth) {
    // Pixels -> normalised camera units (divide by the focal length) -> the 2D's RMS units.
    for (int j = 0; j < 17; ++j) features[kMlpLifterInputs + j] = float(((*depth)[j] - (*depth)[0]) / camera.fx / rms);
  }
  if (apparent_size) features[kMlpLifterInputs + (depth ? 17 : 0)] = float(std::log(rms));
  if (relations) {
    float* r = features + MlpLifterInputs{depth != nullptr, apparent_size, false}.count();
    std::fill(r, r + kMlpLifterRelationInputs, 0.0f);
    for (const OrdinalRelation& rel : *relations) {
      if (rel.a == rel.b || rel.a < 0 || rel.b < 0 || rel.a >= 17 || rel.b >= 17) return false;
      const int a = std::min(rel.a, rel.b), b = std::max(rel.a, rel.b);
      const int pair = a * 17 - a * (a + 1) / 2 + (b - a - 1);  // index of (a, b) among the pairs a < b
      float sign = rel.order == OrdinalRelation::Order::Equal ? 0.0f
                   : rel.order == OrdinalRelation::Order::Farther ? 1.0f
                                                                  : -1.0f;
      if (a != rel.a) sign = -sign;  // stated as Z(b) ? Z(a)
      r[2 * pair] = 1.0f;
      r[2 * pair + 1] = sign;
    }
  }
  return true;
}

Eigen::Matrix2Xd mirror_h36m_pixels(const Eigen::Matrix2Xd& pixels, double cx) {
  const auto& mirror = h36m_mirror();
  Eigen::Matrix2Xd out(2, pixels.cols());
  for (int j = 0; j < pixels.cols(); ++j) {
    out(0, mirror[j]) = 2.0 * cx - pixels(0, j);
    out(1, mirror[j]) = pixels(1, j);
  }
  return out;
}

Eigen::VectorXd mirror_h36m_depth(const Eigen::VectorXd& depth) {
  const auto& mirror = h36m_mirror();
  Eigen::VectorXd out(depth.size());
  for (int j = 0; j < depth.size(); ++j) out[mirror[j]] = depth[j];
  return out;
}

Eigen::Matrix3Xd mirror_h36m_joints(const Eigen::Matrix3Xd& joints) {
  const auto& mirror = h36m_mirror();
  Eigen::Matrix3Xd out(3, joints.cols());
  for (int j = 0; j < joints.cols(); ++j) out.col(mirror[j]) << -joints(0, j), joints(1, j), joints(2, j);
  return out;
}

std::vector<OrdinalRelation> mirror_h36m_relations(const std::vector<OrdinalRelation>& relations) {
  const auto& mirror = h36m_mirror();
  std::vector<OrdinalRelation> out = relations;
  for (OrdinalRelation& r : out) {
    if (r.a < 0 || r.b < 0 || r.a >= 17 || r.b >= 17) continue;  // refused by mlp_lifter_features
    r.a = mirror[std::size_t(r.a)];
    r.b = mirror[std::size_t(r.b)];
  }
  return out;
}

std::vector<MlpWeights> load_mlp_lifter_members(const std::filesystem::path& model, bool* flip_average) {
  std::vector<MlpWeights> members;
  if (flip_average) *flip_average = true;
  if (model.extension() != ".json") {
    members.push_back(load_mlp(model));
    return members;
  }
  const nlohmann::json info = read_json_file(model);
  if (!info.is_object() || info.value("format", "") != "monobody-mlp-ensemble" || !info.contains("members") ||
      !info["members"].is_array() || info["members"].empty())
    throw Error("'" + model.string() +
                "' is not a network ensemble (expected {\"format\": \"monobody-mlp-ensemble\", \"members\": [...]})");
  if (info.contains("flip_average")) {
    if (!info["flip_average"].is_boolean()) throw Error("'" + model.string() + "': \"flip_average\" is true or false");
    if (flip_average) *flip_average = info["flip_average"].get<bool>();
  }
  for (const auto& m : info["members"]) {
    if (!m.is_string()) throw Error("'" + model.string() + "': each ensemble member is a path to a .mlp file");
    const std::filesystem::path path = model.parent_path() / m.get<std::string>();
    if (path.extension() == ".json") throw Error("'" + model.string() + "': an ensemble cannot contain an ensemble");
    members.push_back(load_mlp(path));
  }
  return members;
}

MlpLifter::MlpLifter(const std::filesystem::path& model, MlpLifterOptions options) : options_(options) {
  bool flip_average = true;  // an ensemble file may turn it off (its members then take the mirror image's place)
  add_members(load_mlp_lifter_members(model, &flip_average));
  options_.flip_average = options_.flip_average && flip_average;
}

MlpLifter::MlpLifter(MlpWeights weights, MlpLifterOptions options)
    : MlpLifter(std::vector<MlpWeights>{std::move(weights)}, options) {}

MlpLifter::MlpLifter(std::vector<MlpWeights> members, MlpLifterOptions options) : options_(options) {
  add_members(std::move(members));
}

void MlpLifter::add_members(std::vector<MlpWeights> members) {
  if (members.empty()) throw Error("a lifter needs at least one network");
  for (std::size_t i = 0; i < members.size(); ++i) {
    Member m;
    m.inputs = check_shape(members[i], members.size() == 1 ? "the model" : "ensemble member " + std::to_string(i + 1));
    m.weights = std::move(members[i]);
    m.mlp = std::make_unique<Mlp>(m.weights);
    if (!members_.empty() && m.inputs.depth != members_.front().inputs.depth)
      throw Error("the ensemble's members disagree on whether they read the 2D network's depths");
    reads_relations_ = reads_relations_ || m.inputs.relations;
    uses_apparent_size_ = uses_apparent_size_ || m.inputs.apparent_size;
    members_.push_back(std::move(m));
  }
}

void MlpLifter::lift_batch(const std::vector<Eigen::Matrix2Xd>& pixels, const std::vector<Eigen::VectorXd>& depths,
                           const PinholeCamera<double>& camera, std::vector<Eigen::Matrix3Xd>& joints_mm,
                           const std::vector<std::vector<OrdinalRelation>>* relations) const {
  const int n = int(pixels.size());
  const int views = options_.flip_average ? 2 : 1;
  if (uses_depth() && depths.size() != pixels.size())
    throw Error("cannot lift: this model needs each keypoint's relative depth from the 2D network");
  if (relations && relations->size() != pixels.size()) throw Error("cannot lift: one list of relations per pose");
  // A model that reads relations and is given none sees "no relation known" for every pair.
  static const std::vector<OrdinalRelation> none;
  auto relations_of = [&](int i) -> const std::vector<OrdinalRelation>* {
    if (!reads_relations()) return nullptr;
    return relations ? &(*relations)[std::size_t(i)] : &none;
  };
  // Each member sees its own inputs; the ensemble's joints are the average of its members' (and of each
  // member's mirror-image view).
  Eigen::MatrixXf sum = Eigen::MatrixXf::Zero(kMlpLifterOutputs, n);
  for (const Member& member : members_) {
    Eigen::MatrixXf x(member.weights.spec.inputs, n * views), y(kMlpLifterOutputs, n * views);
    for (int i = 0; i < n; ++i) {
      const Eigen::VectorXd* depth = member.inputs.depth ? &depths[std::size_t(i)] : nullptr;
      const std::vector<OrdinalRelation>* rel = member.inputs.relations ? relations_of(i) : nullptr;
      if (!mlp_lifter_features(pixels[i], camera, x.col(i).data(), depth, member.inputs.apparent_size, rel))
        throw Error("cannot lift: the 2D keypoints are degenerate (non-finite, or all at one point), or a relation "
                    "names a joint outside H36M-17");
      if (views == 2) {
        Eigen::VectorXd mirrored_depth;
        if (depth) mirrored_depth = mirror_h36m_depth(*depth);
        std::vector<OrdinalRelation> mirrored_relations;
        if (rel) mirrored_relations = mirror_h36m_relations(*rel);
        mlp_lifter_features(mirror_h36m_pixels(pixels[i], camera.cx), camera, x.col(n + i).data(),
                            depth ? &mirrored_depth : nullptr, member.inputs.apparent_size,
                            rel ? &mirrored_relations : nullptr);
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      member.mlp->forward(x, y);
    }
    sum += y.leftCols(n);
    if (views == 2) {
      // The mirror view's joints, mirrored back: x negated, left and right outputs swapped.
      const auto& mirror = h36m_mirror();
      for (int i = 0; i < n; ++i)
        for (int j = 1; j < 17; ++j) {
          const auto m = y.col(n + i).segment<3>(3 * (mirror[j] - 1));
          sum.col(i).segment<3>(3 * (j - 1)) += Eigen::Vector3f(-m.x(), m.y(), m.z());
        }
    }
  }
  sum /= float(views * int(members_.size()));
  joints_mm.resize(std::size_t(n));
  for (int i = 0; i < n; ++i) {
    Eigen::Matrix3Xd J = Eigen::Matrix3Xd::Zero(3, 17);
    for (int j = 1; j < 17; ++j) J.col(j) = sum.col(i).segment<3>(3 * (j - 1)).cast<double>();
    if (!J.allFinite()) throw Error("cannot lift: the network produced non-finite joints");
    joints_mm[std::size_t(i)] = std::move(J);
  }
}

LiftOutput MlpLifter::lift(const Keypoints2D& keypoints, const PinholeCamera<double>* camera) const {
  return lift_knowing(keypoints, camera, {});
}

LiftOutput MlpLifter::lift_knowing(const Keypoints2D& keypoints, const PinholeCamera<double>* camera,
                                   const std::vector<OrdinalRelation>& relations) const {
  if (!camera && uses_apparent_size())
    throw Error("cannot lift: this network reads the person's apparent size, which needs the camera's intrinsics");
  const Keypoints2D h36m =
      keypoints.joint_set == JointSet::H36m17 ? keypoints : map_joints(keypoints, JointSet::H36m17);
  if (h36m.count_valid() < 17 - 4)
    throw Error("cannot lift: only " + std::to_string(h36m.count_valid()) + " of 17 joints are visible");
  Eigen::Matrix2Xd pixels = h36m.xy;
  // Missing joints take the position of their parent: the network has no notion of absence, and a joint
  // at its parent reads as a foreshortened limb rather than as an outlier.
  const auto& parents = skeleton(JointSet::H36m17).parents;
  Eigen::VectorXd depth = h36m.depth;
  for (int j = 0; j < 17; ++j) {
    if (h36m.valid(j) || parents[j] < 0) continue;
    pixels.col(j) = pixels.col(parents[j]);
    if (depth.size() == 17) depth[j] = depth[parents[j]];
  }
  PinholeCamera<double> cam;
  if (camera) {
    cam = *camera;
  } else {
    // Unknown intrinsics: the person is taken to be at the centre of the view. The focal length cancels in
    // the scale-normalised features.
    cam.fx = cam.fy = 1000.0;
    cam.cx = pixels(0, 0);
    cam.cy = pixels(1, 0);
  }
  std::vector<Eigen::VectorXd> depths;
  if (uses_depth()) {
    if (h36m.depth.size() != 17)
      throw Error("cannot lift with '" + name() + "+ordinal': the keypoints carry no relative depths (BlazePose z)");
    depths.push_back(depth);
  }
  std::vector<Eigen::Matrix3Xd> joints;
  const std::vector<std::vector<OrdinalRelation>> per_pose = {relations};
  lift_batch({pixels}, depths, cam, joints, &per_pose);
  LiftOutput out;
  out.joints = Joints3D::zeros(JointSet::H36m17);
  out.joints.xyz = joints[0] / 1000.0;
  out.joints.confidence = h36m.confidence.cwiseMin(1.0);
  return out;
}

std::filesystem::path default_mlp_lifter_path() {
  const char* src = std::getenv("MONOBODY_SOURCE_DIR");
  return std::filesystem::path(src && *src ? src : MONOBODY_SOURCE_DIR) / "models" / "lift" / "mlp-cmu.mlp";
}

}  // namespace monobody
