// The body model: builder determinism, the binary format, posing (rest pose, locality of rotations) and the
// SMPL-format .npz loader with a synthetic file.
#include <gtest/gtest.h>
#include <zip.h>

#include <fstream>

#include "monobody/body.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/npy.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {
namespace fs = std::filesystem;

#define MONOBODY_BODY_MODEL_OR_SKIP(var)                                                                     \
  MONOBODY_MODEL_FILE_OR_SKIP(var##_path, "body/monobody_body_v1.bin");                                     \
  const BodyModel var = load_body_model(var##_path)

std::string file_bytes(const fs::path& p) { return read_text_file(p); }

TEST(BodyModelBuilder, RegeneratesTheCommittedModelByteForByte) {
#if defined(__SANITIZE_ADDRESS__)
  // Unoptimised, the 600-sample PCA and regressions take over 10 minutes; the release run covers this.
  GTEST_SKIP() << "too slow in a sanitizer build (the optimised test run checks it)";
#endif
  MONOBODY_SHARED_FILE_OR_SKIP(makehuman, "body/makehuman/base.obj");
  MONOBODY_SHARED_FILE_OR_SKIP(mocap, "mocap/cmu/expmap_li2018/train");
  MONOBODY_MODEL_FILE_OR_SKIP(committed, "body/monobody_body_v1.bin");
  BodyModelBuildOptions options;  // the defaults are what models/body/README.md's command uses
  options.makehuman_dir = makehuman.parent_path();
  options.mocap_dir = mocap.parent_path();
  BodyModelBuildReport report;
  const BodyModel model = build_body_model(options, &report);
  const fs::path out = test::temp_dir("body_builder") / "model.bin";
  save_body_model(out, model);
  // Identical bytes: the sampling, the PCA (with fixed signs) and the regressions are deterministic.
  EXPECT_EQ(file_bytes(out), file_bytes(committed));
  EXPECT_GT(report.explained_variance, 0.99);
  EXPECT_LT(report.joint_regression_rms_mm, 15.0);
  EXPECT_GT(report.mocap_frames, 1000);
}

TEST(BodyModel, CommittedModelIsABodyOfPlausibleSize) {
  MONOBODY_BODY_MODEL_OR_SKIP(model);
  EXPECT_EQ(model.num_joints(), 31);
  EXPECT_EQ(model.num_shapes(), 16);
  EXPECT_LT(fs::file_size(model_path), 5u << 20);
  // MakeHuman's default character is 1.66 m; the mean adult of our sampling is close to that.
  const double height = body_height(model, Eigen::VectorXd::Zero(16));
  EXPECT_GT(height, 1.55);
  EXPECT_LT(height, 1.80);
  // Left is +x: the left knee and left ear are at x > 0, the nose at the front (+z) of the head.
  const Eigen::Matrix3Xd rest = model.rest_joints(Eigen::VectorXd());
  EXPECT_GT(rest(0, model.joint("left_leg")), 0.05);
  EXPECT_LT(rest(0, model.joint("right_leg")), -0.05);
  const int nose = model.landmarks[std::size_t(model.landmark("nose"))].vertices[0].first;
  EXPECT_GT(model.template_vertices(2, nose), rest(2, model.joint("head")) + 0.05);
  // Shape directions are unit-variance components: one standard deviation moves vertices by centimetres.
  const double first = model.shape_dirs.col(0).reshaped(3, model.num_vertices()).colwise().norm().maxCoeff();
  EXPECT_GT(first, 0.01);
  EXPECT_LT(first, 0.5);  // the fingertips move most: size changes act on the hands' distance
  // A taller semantic character is taller.
  Eigen::VectorXd s(6);
  s << 0.5, 0.5, 0.5, 0.5, 0.1, 0.5;
  const double short_height = body_height(model, model.shape_from_semantics(s));
  s[4] = 0.9;
  EXPECT_GT(body_height(model, model.shape_from_semantics(s)), short_height + 0.08);
}

TEST(BodyPoser, RestPoseReproducesTheShapedTemplate) {
  MONOBODY_BODY_MODEL_OR_SKIP(model);
  BodyPose p = BodyPose::zero(model);
  p.shape.setLinSpaced(-1.0, 1.0);
  p.translation << 0.1, -0.2, 3.0;
  BodyPoser poser(model);
  poser.pose(p);
  Eigen::Matrix3Xd shaped;
  model.shaped_vertices(p.shape, shaped);
  // Skinning weights are stored as float32, so they sum to 1 within ~1e-7: sub-micrometre differences.
  EXPECT_LT((poser.vertices() - (shaped.colwise() + p.translation)).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_LT((poser.joints() - (model.rest_joints(p.shape).colwise() + p.translation)).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(BodyPoser, RotatingOneJointMovesOnlyTheVerticesItAndItsChildrenWeight) {
  MONOBODY_BODY_MODEL_OR_SKIP(model);
  const int elbow = model.joint("left_fore_arm");
  std::vector<bool> in_subtree(std::size_t(model.num_joints()), false);
  in_subtree[std::size_t(elbow)] = true;
  for (int j = elbow + 1; j < model.num_joints(); ++j)
    if (in_subtree[std::size_t(model.parents[std::size_t(j)])]) in_subtree[std::size_t(j)] = true;
  BodyPose p = BodyPose::zero(model);
  BodyPoser poser(model);
  poser.pose(p);
  const Eigen::Matrix3Xd rest = poser.vertices();
  p.pose.segment<3>(3 * elbow) << 0.0, 0.0, 1.2;
  poser.pose(p);
  int moved = 0, influenced = 0;
  for (int v = 0; v < model.num_vertices(); ++v) {
    double weight = 0;
    for (int k = model.skin_offset[std::size_t(v)]; k < model.skin_offset[std::size_t(v + 1)]; ++k)
      if (in_subtree[std::size_t(model.skin_joint[std::size_t(k)])]) weight += model.skin_weight[std::size_t(k)];
    const double d = (poser.vertices().col(v) - rest.col(v)).norm();
    if (weight == 0.0) {
      ASSERT_EQ(d, 0.0) << "vertex " << v << " moved without weight on the forearm";
    } else {
      ++influenced;
      moved += d > 1e-6;
    }
  }
  EXPECT_GT(influenced, 500);  // the forearm and the hand
  EXPECT_EQ(moved, influenced);
  // The joints above the elbow stay; the wrist turns about the elbow, keeping its distance.
  const int wrist = model.joint("left_hand");
  EXPECT_NEAR((poser.joints().col(model.joint("left_arm")) - model.rest_joints(p.shape).col(model.joint("left_arm"))).norm(), 0.0, 1e-12);
  const double forearm = (model.rest_joints(p.shape).col(wrist) - model.rest_joints(p.shape).col(elbow)).norm();
  EXPECT_NEAR((poser.joints().col(wrist) - poser.joints().col(elbow)).norm(), forearm, 1e-12);
}

TEST(BodyModelFile, SaveLoadRoundTripAndCorruptFiles) {
  MONOBODY_BODY_MODEL_OR_SKIP(model);
  const fs::path dir = test::temp_dir("body_file");
  save_body_model(dir / "copy.bin", model);
  const BodyModel copy = load_body_model(dir / "copy.bin");
  EXPECT_EQ(copy.template_vertices, model.template_vertices);   // float32 values survive exactly
  EXPECT_EQ(copy.shape_dirs, model.shape_dirs);                 // float16 values survive exactly
  EXPECT_EQ(copy.pose_prior.whitening, model.pose_prior.whitening);

  std::string bytes = file_bytes(dir / "copy.bin");
  auto expect_error = [&](const std::string& content, const std::string& message) {
    write_file_atomic(dir / "bad.bin", content);
    try {
      load_body_model(dir / "bad.bin");
      ADD_FAILURE() << "no error for: " << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x40;
  expect_error(flipped, "checksum mismatch");
  expect_error(bytes.substr(0, bytes.size() - 100), "truncated");
  expect_error("MBODYMDL", "not a monobody body model");
  expect_error("hello world, this is not a model file at all", "not a monobody body model");
  std::string future = bytes;
  future[8] = 9;
  expect_error(future, "format version 9");
  EXPECT_THROW(load_body_model(dir / "missing.bin"), Error);
}

// --- SMPL-format .npz -------------------------------------------------------------------------------------

// A tiny SMPL-layout model: 24 joints in a chain along +y, two vertices per joint, each bound to its joint.
struct SyntheticSmpl {
  static constexpr int J = 24, V = 48, K = 3;
  std::vector<float> v_template, shapedirs, posedirs, weights, regressor;
  std::vector<std::int32_t> kintree, faces;
  SyntheticSmpl() {
    for (int v = 0; v < V; ++v) {
      const int j = v / 2;
      v_template.insert(v_template.end(), {v % 2 ? 0.05f : -0.05f, 0.1f * float(j), 0.0f});
      for (int d = 0; d < 3; ++d)
        for (int k = 0; k < K; ++k) shapedirs.push_back(d == 1 && k == 0 ? 0.01f * float(j) : 0.0f);
      for (int d = 0; d < 3; ++d)
        for (int k = 0; k < 9 * (J - 1); ++k) posedirs.push_back(d == 2 && k == 0 ? 0.5f : 0.0f);
      for (int i = 0; i < J; ++i) weights.push_back(i == j ? 1.0f : 0.0f);
    }
    for (int j = 0; j < J; ++j)
      for (int v = 0; v < V; ++v) regressor.push_back(v / 2 == j ? 0.5f : 0.0f);
    for (int j = 0; j < J; ++j) kintree.push_back(j == 0 ? -1 : j - 1);
    for (int j = 0; j < J; ++j) kintree.push_back(j);
    for (int j = 0; j + 1 < J; ++j) faces.insert(faces.end(), {2 * j, 2 * j + 1, 2 * j + 2});
  }
  // Writes the .npz, leaving out `skip` and giving `reshape` a wrong shape.
  void write(const fs::path& path, const std::string& skip = "", const std::string& wrong = "") const {
    std::vector<std::pair<std::string, std::string>> members = {
        {"v_template", encode_npy<float>({V, 3}, v_template.data())},
        {"shapedirs", encode_npy<float>({V, 3, K}, shapedirs.data())},
        {"posedirs", encode_npy<float>({V, 3, 9 * (J - 1)}, posedirs.data())},
        {"weights", encode_npy<float>({V, J}, weights.data())},
        {"J_regressor", encode_npy<float>(wrong == "J_regressor" ? std::vector<std::int64_t>{V, J} : std::vector<std::int64_t>{J, V}, regressor.data())},
        {"kintree_table", encode_npy<std::int32_t>({2, J}, kintree.data())},
        {"f", encode_npy<std::int32_t>({J - 1, 3}, faces.data())}};
    int error = 0;
    fs::remove(path);
    zip_t* zip = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
    ASSERT_NE(zip, nullptr);
    for (auto& [name, data] : members) {
      if (name == skip) continue;
      zip_source_t* src = zip_source_buffer(zip, data.data(), data.size(), 0);
      ASSERT_GE(zip_file_add(zip, (name + ".npy").c_str(), src, ZIP_FL_OVERWRITE), 0);
    }
    ASSERT_EQ(zip_close(zip), 0);  // the buffers are read here, while `members` is alive
  }
};

// An SMPL-format model names its joints as keypoints are named (left_shoulder, left_knee, ...), and has none of
// monobody's landmarks (nose, heels): the fitter uses the joints it can find, and fits them.
TEST(SmplNpz, TheFitterFindsItsJointsByTheirNames) {
  const fs::path path = test::temp_dir("smpl_fit") / "model.npz";
  SyntheticSmpl smpl;
  smpl.write(path);
  const BodyModel model = load_body_model(path);
  const BodyFitter fitter(model);
  EXPECT_TRUE(fitter.has_point("left_shoulder"));
  EXPECT_TRUE(fitter.has_point("right_knee"));
  EXPECT_FALSE(fitter.has_point("nose"));
  // The synthetic model is a chain of 24 joints 0.1 m apart; stood 3 m in front of the camera, its keypoints
  // (the 12 of BlazePose's 33 it has) are fitted back to within a pixel.
  BodyPose truth = BodyPose::zero(model);
  truth.global_orient << M_PI, 0, 0;  // y down, as the camera's
  truth.translation << 0, 1.0, 3.0;
  BodyPoser poser(model);
  poser.pose(truth);
  PinholeCamera<double> camera;
  camera.fx = camera.fy = 1000;
  camera.cx = camera.cy = 500;
  const Eigen::Matrix3Xd points = fitter.keypoints(poser, JointSet::BlazePose33);
  Keypoints2D keypoints = Keypoints2D::zeros(JointSet::BlazePose33);
  int seen = 0;
  for (int i = 0; i < keypoints.size(); ++i)
    if (points.col(i).allFinite()) {
      keypoints.xy.col(i) = camera.project(Eigen::Vector3d(points.col(i)));
      keypoints.confidence[i] = 1.0;
      ++seen;
    }
  EXPECT_EQ(seen, 12);
  BodyFitInput input;
  input.camera = camera;
  input.keypoints = &keypoints;
  BodyFitReport report;
  fitter.fit(input, {}, &report);
  EXPECT_EQ(report.keypoints_used, 12);
  EXPECT_LT(report.keypoint_rms_px, 1.0);
}

TEST(SmplNpz, LoadsAndPosesASyntheticModel) {
  const fs::path path = test::temp_dir("smpl") / "model.npz";
  SyntheticSmpl smpl;
  smpl.write(path);
  const BodyModel model = load_body_model(path);
  EXPECT_EQ(model.num_vertices(), 48);
  EXPECT_EQ(model.num_joints(), 24);
  EXPECT_EQ(model.num_shapes(), 3);
  EXPECT_EQ(model.joint("left_knee"), 4);
  EXPECT_EQ(model.parents[5], 4);
  EXPECT_EQ(model.faces.cols(), 23);
  // Rest joints are the regressor's means; the first shape direction stretches the chain.
  Eigen::VectorXd shape = Eigen::VectorXd::Zero(3);
  shape[0] = 2.0;
  EXPECT_NEAR(model.rest_joints(shape)(1, 10), 1.0 + 2.0 * 0.1, 1e-6);

  BodyPose p = BodyPose::zero(model);
  BodyPoser poser(model);
  poser.pose(p);
  EXPECT_LT((poser.vertices() - model.template_vertices).cwiseAbs().maxCoeff(), 1e-7);
  // Bending joint 1 by 90 degrees about z: vertices of joint 0 stay, the pose corrective (z += 0.5 * (R00 - 1)
  // of joint 1) moves every vertex by -0.5 in z, and joint 2's vertices swing around joint 1.
  p.pose.segment<3>(3) << 0.0, 0.0, M_PI / 2;
  poser.pose(p);
  EXPECT_NEAR(poser.vertices()(2, 0), -0.5, 1e-6);
  EXPECT_NEAR(poser.vertices()(1, 0), 0.0, 1e-6);
  const Eigen::Vector3d j1 = poser.joints().col(1);
  const Eigen::Vector3d v4 = poser.vertices().col(4);  // joint 2's left vertex: rest (-0.05, 0.2)
  EXPECT_NEAR(v4.x() - j1.x(), -0.1, 1e-6);             // (-0.05, 0.1) relative, turned 90 degrees
  EXPECT_NEAR(v4.y() - j1.y(), -0.05, 1e-6);
}

TEST(SmplNpz, BadFilesGiveClearErrors) {
  const fs::path dir = test::temp_dir("smpl_bad");
  SyntheticSmpl smpl;
  auto message = [&](const fs::path& p) {
    try {
      load_body_model(p);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  smpl.write(dir / "no_weights.npz", "weights");
  EXPECT_NE(message(dir / "no_weights.npz").find("missing array 'weights'"), std::string::npos);
  smpl.write(dir / "wrong.npz", "", "J_regressor");
  EXPECT_NE(message(dir / "wrong.npz").find("array 'J_regressor' has shape (48 x 24)"), std::string::npos);
  write_file_atomic(dir / "text.npz", "this is not a zip archive");
  EXPECT_NE(message(dir / "text.npz").find("not a valid .npz"), std::string::npos);
  EXPECT_NE(message(dir / "absent.npz").find("absent.npz"), std::string::npos);
}

}  // namespace
}  // namespace monobody
