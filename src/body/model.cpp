// BodyModel queries, validation, posing (forward kinematics + linear blend skinning) and the OBJ writer.
#include <cmath>
#include <cstdio>

#include "monobody/body.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"

namespace monobody {

namespace {

std::string normalise_name(std::string_view name) {
  std::string out;
  for (char c : name) out += (c == ' ' || c == '-') ? '_' : char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

int BodyModel::joint(std::string_view name) const {
  const std::string key = normalise_name(name);
  for (std::size_t j = 0; j < joint_names.size(); ++j)
    if (joint_names[j] == key) return int(j);
  std::string known;
  for (const auto& n : joint_names) known += (known.empty() ? "" : ", ") + n;
  throw Error("body model " + this->name + " has no joint '" + std::string(name) + "' (joints: " + known + ")");
}

int BodyModel::landmark(std::string_view name) const {
  const std::string key = normalise_name(name);
  for (std::size_t i = 0; i < landmarks.size(); ++i)
    if (landmarks[i].name == key) return int(i);
  throw Error("body model " + this->name + " has no landmark '" + std::string(name) + "'");
}

Eigen::VectorXd BodyModel::shape_from_semantics(const Eigen::VectorXd& semantics) const {
  if (semantic_map.size() == 0) throw Error("body model " + name + " has no semantic shape parameters");
  if (semantics.size() != Eigen::Index(semantic_names.size()))
    throw Error("body model " + name + " takes " + std::to_string(semantic_names.size()) +
                " semantic parameters, got " + std::to_string(semantics.size()));
  return semantic_map.leftCols(semantics.size()) * semantics + semantic_map.col(semantics.size());
}

void BodyModel::shaped_vertices(const Eigen::VectorXd& shape, Eigen::Matrix3Xd& out) const {
  out.resize(3, num_vertices());
  Eigen::Map<Eigen::VectorXd> flat(out.data(), out.size());
  flat = Eigen::Map<const Eigen::VectorXd>(template_vertices.data(), template_vertices.size());
  if (shape.size()) flat.noalias() += shape_dirs.leftCols(shape.size()) * shape;
}

Eigen::Matrix3Xd BodyModel::rest_joints(const Eigen::VectorXd& shape) const {
  Eigen::Matrix3Xd vertices;
  shaped_vertices(shape, vertices);
  return (joint_regressor * vertices.transpose()).transpose();
}

void BodyModel::validate() const {
  const long V = num_vertices(), J = num_joints();
  auto fail = [&](const std::string& why) { throw Error("inconsistent body model: " + why); };
  if (V < 3 || J < 1) fail("no vertices or no joints");
  if (!template_vertices.allFinite() || !shape_dirs.allFinite() || !pose_dirs.allFinite()) fail("non-finite vertex data");
  if (shape_dirs.rows() != 3 * V) fail("shape directions do not match the vertex count");
  if (pose_dirs.size() && (pose_dirs.rows() != 3 * V || pose_dirs.cols() != 9 * (J - 1)))
    fail("pose correctives do not match the vertex and joint counts");
  if (faces.size() == 0 || faces.minCoeff() < 0 || faces.maxCoeff() >= V) fail("face index out of range");
  if (long(joint_names.size()) != J) fail("joint names do not match the joint count");
  for (long j = 0; j < J; ++j)
    if ((j == 0) != (parents[std::size_t(j)] < 0) || parents[std::size_t(j)] >= j)
      fail("joint " + std::to_string(j) + " has an invalid parent (the root must be first, parents before children)");
  if (joint_regressor.rows() != J || joint_regressor.cols() != V) fail("joint regressor has the wrong size");
  for (Eigen::Index k = 0; k < joint_regressor.nonZeros(); ++k)
    if (!std::isfinite(joint_regressor.valuePtr()[k])) fail("non-finite joint regressor");
  if (long(skin_offset.size()) != V + 1 || skin_offset.front() != 0 ||
      skin_offset.back() != int(skin_joint.size()) || skin_weight.size() != skin_joint.size())
    fail("skinning weight lists disagree");
  for (long v = 0; v < V; ++v) {
    double sum = 0;
    if (skin_offset[std::size_t(v)] > skin_offset[std::size_t(v + 1)]) fail("skinning offsets out of order");
    for (int k = skin_offset[std::size_t(v)]; k < skin_offset[std::size_t(v + 1)]; ++k) {
      if (skin_joint[std::size_t(k)] < 0 || skin_joint[std::size_t(k)] >= J) fail("skinning joint out of range");
      sum += skin_weight[std::size_t(k)];
    }
    if (!(std::abs(sum - 1.0) < 1e-3)) fail("skinning weights of vertex " + std::to_string(v) + " sum to " + std::to_string(sum));
  }
  for (const auto& l : landmarks)
    for (auto [v, w] : l.vertices)
      if (v < 0 || v >= V || !std::isfinite(w)) fail("landmark '" + l.name + "' has a bad vertex");
  if (semantic_map.size() && (semantic_map.rows() != num_shapes() ||
                              semantic_map.cols() != Eigen::Index(semantic_names.size()) + 1))
    fail("semantic map has the wrong size");
  if (!pose_prior.empty() && (pose_prior.mean.size() != 3 * J || pose_prior.whitening.cols() != 3 * J ||
                              pose_prior.lower.size() != 3 * J || pose_prior.upper.size() != 3 * J))
    fail("pose prior has the wrong size");
}

BodyPose BodyPose::zero(const BodyModel& model) {
  BodyPose p;
  p.shape = Eigen::VectorXd::Zero(model.num_shapes());
  p.pose = Eigen::VectorXd::Zero(3 * model.num_joints());
  return p;
}

BodyPoser::BodyPoser(const BodyModel& model)
    : model_(model),
      rest_vertices_(3, model.num_vertices()),
      rest_joints_(3, model.num_joints()),
      joints_(3, model.num_joints()),
      vertices_(3, model.num_vertices()),
      skinning_(std::size_t(model.num_joints())),
      pose_feature_(model.pose_dirs.cols()) {}

void BodyPoser::pose(const BodyPose& p) {
  const int J = model_.num_joints();
  if (p.pose.size() != 3 * J) throw Error("body pose has " + std::to_string(p.pose.size()) + " numbers, expected " + std::to_string(3 * J));
  if (p.shape.size() > model_.num_shapes()) throw Error("too many shape coefficients for body model " + model_.name);
  Eigen::Map<Eigen::VectorXd> rest(rest_vertices_.data(), rest_vertices_.size());
  rest = Eigen::Map<const Eigen::VectorXd>(model_.template_vertices.data(), model_.template_vertices.size());
  if (p.shape.size()) rest.noalias() += model_.shape_dirs.leftCols(p.shape.size()) * p.shape;
  for (int j = 0; j < J; ++j) {  // the sparse regressor row by row: no temporaries
    rest_joints_.col(j).setZero();
    for (Eigen::SparseMatrix<double, Eigen::RowMajor>::InnerIterator it(model_.joint_regressor, j); it; ++it)
      rest_joints_.col(j) += it.value() * rest_vertices_.col(it.col());
  }

  // Per-joint transforms on the stack-free buffers (J is small, so fixed-size temporaries are fine).
  constexpr int kMaxJoints = 64;
  if (J > kMaxJoints) throw Error("body model has more than 64 joints");
  Mat3<double> rotations[kMaxJoints];
  Vec3<double> offsets[kMaxJoints], posed[kMaxJoints];
  forward_kinematics<double>(model_.parents, rest_joints_.data(), p.pose.data(), p.global_orient.data(),
                             p.translation.data(), rotations, offsets, posed);
  for (int j = 0; j < J; ++j) {
    skinning_[std::size_t(j)] << rotations[j], offsets[j];
    joints_.col(j) = posed[j];
  }
  if (model_.pose_dirs.size()) {  // SMPL pose correctives: features are (R_local - I) of the non-root joints
    for (int j = 1; j < J; ++j) {
      const Mat3<double> local = axis_angle_to_matrix<double>(Vec3<double>(p.pose.segment<3>(3 * j)));
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) pose_feature_[9 * (j - 1) + 3 * r + c] = local(r, c) - (r == c ? 1.0 : 0.0);
    }
    rest.noalias() += model_.pose_dirs * pose_feature_;
  }
  const int V = model_.num_vertices();
  for (int v = 0; v < V; ++v) {
    Eigen::Matrix<double, 3, 4> blend = Eigen::Matrix<double, 3, 4>::Zero();
    for (int k = model_.skin_offset[std::size_t(v)]; k < model_.skin_offset[std::size_t(v + 1)]; ++k)
      blend += model_.skin_weight[std::size_t(k)] * skinning_[std::size_t(model_.skin_joint[std::size_t(k)])];
    vertices_.col(v) = blend.leftCols<3>() * rest_vertices_.col(v) + blend.col(3);
  }
}

Eigen::Vector3d BodyPoser::landmark(int index) const {
  Eigen::Vector3d sum = Eigen::Vector3d::Zero();
  for (auto [v, w] : model_.landmarks.at(std::size_t(index)).vertices) sum += w * vertices_.col(v);
  return sum;
}

double body_height(const BodyModel& model, const Eigen::VectorXd& shape) {
  Eigen::Matrix3Xd vertices;
  model.shaped_vertices(shape, vertices);
  return vertices.row(1).maxCoeff() - vertices.row(1).minCoeff();
}

void write_obj(const std::filesystem::path& path, const Eigen::Matrix3Xd& vertices, const Eigen::Matrix3Xi& faces) {
  std::string out = "# monobody body mesh, metres\n";
  out.reserve(std::size_t(vertices.cols()) * 40 + std::size_t(faces.cols()) * 24);
  char line[96];
  for (Eigen::Index v = 0; v < vertices.cols(); ++v) {
    std::snprintf(line, sizeof line, "v %.5f %.5f %.5f\n", vertices(0, v), vertices(1, v), vertices(2, v));
    out += line;
  }
  for (Eigen::Index f = 0; f < faces.cols(); ++f) {
    std::snprintf(line, sizeof line, "f %d %d %d\n", faces(0, f) + 1, faces(1, f) + 1, faces(2, f) + 1);
    out += line;
  }
  write_file_atomic(path, out);
}

}  // namespace monobody
