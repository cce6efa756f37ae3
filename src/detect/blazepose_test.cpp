// BlazePose's pre- and post-processing against the peer runtime's recorded tensors on messi5.jpg
// (shared/reference/blazepose), and on synthetic cases with known answers.
//
// The reference writes positions in the continuous convention where pixel (0, 0)'s centre is at (0.5, 0.5);
// monobody uses OpenCV's (centre at (0, 0)), so reference positions are shifted by -0.5 here.
#include "blazepose.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <numeric>

#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/image_io.hpp"
#include "test_support.hpp"

namespace monobody::blazepose {
namespace {
namespace fs = std::filesystem;

constexpr const char* kReference = "../reference/blazepose/";

std::vector<float> read_floats(const fs::path& path, std::size_t count) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> v(count);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(count * sizeof(float)));
  if (!in) throw Error("cannot read " + path.string());
  return v;
}

Eigen::Vector2d ref_point(const nlohmann::json& xy) { return {xy[0].get<double>() - 0.5, xy[1].get<double>() - 0.5}; }

RotatedRect ref_roi(const nlohmann::json& ref) {
  const auto& r = ref["roi"];
  return {{r["cx"].get<double>() - 0.5, r["cy"].get<double>() - 0.5}, r["w"], r["h"], r["rot"]};
}

// Mean and 99th percentile of |a - b|. The largest differences are single pixels on strong colour edges,
// where two JPEG decoders (the peer's and libjpeg) disagree by tens of grey levels, so the worst is no measure.
std::pair<double, double> mean_and_p99(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = std::abs(double(a[i]) - double(b[i]));
  const double mean = std::accumulate(d.begin(), d.end(), 0.0) / double(d.size());
  std::nth_element(d.begin(), d.begin() + std::ptrdiff_t(d.size() * 99 / 100), d.end());
  return {mean, d[d.size() * 99 / 100]};
}

double logit(double p) {
  p = std::clamp(p, 1e-7, 1 - 1e-7);
  return std::log(p / (1 - p));
}

TEST(BlazePoseAnchors, CountAndGrid) {
  const auto& a = detector_anchors();
  ASSERT_EQ(int(a.size()), kAnchorCount);
  // 28x28 cells with 2 anchors, then 14x14 with 2, then 7x7 with 6 (three stride-32 layers share a grid).
  EXPECT_NEAR(a[0].x(), 0.5 / 28, 1e-12);
  EXPECT_EQ(a[0], a[1]);
  EXPECT_NEAR(a[2].x(), 1.5 / 28, 1e-12);
  EXPECT_NEAR(a[28 * 28 * 2 - 1].y(), 27.5 / 28, 1e-12);
  EXPECT_NEAR(a[28 * 28 * 2].x(), 0.5 / 14, 1e-12);
  EXPECT_NEAR(a[28 * 28 * 2 + 14 * 14 * 2].x(), 0.5 / 7, 1e-12);
  EXPECT_EQ(a[28 * 28 * 2 + 14 * 14 * 2], a[28 * 28 * 2 + 14 * 14 * 2 + 5]);
  EXPECT_NEAR(a.back().x(), 6.5 / 7, 1e-12);
  EXPECT_NEAR(a.back().y(), 6.5 / 7, 1e-12);
}

TEST(BlazePoseGeometry, InputToImageRoundTripsAndMatchesNormalisedCoordinates) {
  const RotatedRect r{{120.3, 80.7}, 200.0, 150.0, 0.7};
  const Affine m = input_to_image(r, 256);
  const Affine inv = invert(m);
  for (const Eigen::Vector2d& p : {Eigen::Vector2d(0, 0), Eigen::Vector2d(255, 0), Eigen::Vector2d(17.25, 200.5)}) {
    EXPECT_LT((apply(inv, apply(m, p)) - p).norm(), 1e-9);
    // Input pixel i is normalised coordinate (i + 0.5) / size.
    EXPECT_LT((apply(m, p) - region_to_image(r, (p.array() + 0.5) / 256)).norm(), 1e-9);
  }
  // The region's centre is the middle of the input, between pixels 127 and 128.
  EXPECT_LT((apply(m, {127.5, 127.5}) - r.center).norm(), 1e-9);
}

TEST(BlazePoseGeometry, RoiPutsTheCirclePointStraightUp) {
  const Eigen::Vector2d centre(100, 50);
  for (double angle : {0.0, 0.5, 1.6, 3.0, -2.2, -0.1}) {
    const Eigen::Vector2d point = centre + 40.0 * Eigen::Vector2d(std::cos(angle), std::sin(angle));
    const RotatedRect roi = roi_from_alignment(centre, point);
    EXPECT_NEAR(roi.width, 2 * 40 * kRoiScale, 1e-9);
    EXPECT_NEAR(roi.height, roi.width, 1e-12);
    EXPECT_LE(std::abs(roi.rotation), std::numbers::pi + 1e-12);
    // In the crop the point lies above the centre on the body circle (radius = side / (2 * scale)).
    const Eigen::Vector2d up = region_to_image(roi, {0.5, 0.5 - 0.5 / kRoiScale});
    EXPECT_LT((up - point).norm(), 1e-9) << "angle " << angle;
  }
  // Upright person (point above the hips): no rotation.
  EXPECT_NEAR(roi_from_alignment({10, 100}, {10, 20}).rotation, 0.0, 1e-12);
}

TEST(BlazePoseNms, MergesOverlapsWeightedByScoreAndKeepsTheBestScore) {
  auto det = [](double score, double x, double y, double kx) {
    PoseDetection d;
    d.score = score;
    d.box << x, y, 100, 100;
    d.keypoints.setConstant(kx);
    return d;
  };
  // Two overlapping (IoU 0.82), one apart; the input is not sorted.
  const auto out = weighted_nms({det(0.6, 10, 0, 30), det(0.9, 0, 0, 0), det(0.7, 500, 500, 7)}, 0.3);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_DOUBLE_EQ(out[0].score, 0.9);
  EXPECT_NEAR(out[0].box[0], (0.9 * 0 + 0.6 * 10) / 1.5, 1e-12);
  EXPECT_NEAR(out[0].keypoints(1, 3), (0.6 * 30) / 1.5, 1e-12);
  EXPECT_DOUBLE_EQ(out[1].score, 0.7);
  EXPECT_DOUBLE_EQ(out[1].box[0], 500);
  // Below the threshold nothing merges.
  EXPECT_EQ(weighted_nms({det(0.6, 80, 0, 0), det(0.9, 0, 0, 0)}, 0.3).size(), 2u);
  EXPECT_NEAR(box_iou({0, 0, 100, 100}, {10, 0, 100, 100}), 9000.0 / 11000.0, 1e-12);
}

TEST(BlazePoseHeatmap, RefinementFindsTheBlobCentreAndSkipsWeakHeatmaps) {
  constexpr int kSize = 64;
  std::vector<float> logits(std::size_t(kSize) * kSize * 2, -20.0f);
  // Channel 0: a confident blob centred between cells (40, 21) and (41, 21); channel 1: nothing confident.
  for (int r = 0; r < kSize; ++r)
    for (int c = 0; c < kSize; ++c) {
      const double d2 = (c - 40.5) * (c - 40.5) + (r - 21.0) * (r - 21.0);
      logits[(std::size_t(r) * kSize + c) * 2] = float(logit(0.95 * std::exp(-d2 / 2.0)));
      logits[(std::size_t(r) * kSize + c) * 2 + 1] = float(logit(0.3));
    }
  Eigen::Matrix2Xd uv(2, 2);
  uv << 39.2 / kSize, 0.3, 22.9 / kSize, 0.6;
  refine_with_heatmaps(uv, logits, kSize);
  EXPECT_NEAR(uv(0, 0) * kSize, 40.5, 0.05);  // cell c stands for u = c / size
  EXPECT_NEAR(uv(1, 0) * kSize, 21.0, 0.05);
  EXPECT_DOUBLE_EQ(uv(0, 1), 0.3);
  EXPECT_DOUBLE_EQ(uv(1, 1), 0.6);
}

class BlazePoseReference : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto json = test::shared_file(std::string(kReference) + "messi5.reference.json");
    const auto image = test::demo_file("messi5.jpg");
    if (!json) GTEST_SKIP() << "shared reference absent: reference/blazepose (set MONOBODY_DATA)";
    if (!image) GTEST_SKIP() << "demo input absent: messi5.jpg (run scripts/setup.sh)";
    ref_ = read_json_file(*json);
    dir_ = json->parent_path();
    image_ = read_image(*image);
  }
  nlohmann::json ref_;
  fs::path dir_;
  Image image_;
};

TEST_F(BlazePoseReference, LetterboxedDetectorInputMatches) {
  std::vector<float> ours(std::size_t(kDetectorInputSize) * kDetectorInputSize * 3);
  CropScratch scratch;
  crop_to_tensor(image_.view(), letterbox_region(image_.width(), image_.height()), kDetectorInputSize, -1.0f, 1.0f,
                 ours, scratch);
  const auto theirs = read_floats(dir_ / "detector_input_224x224x3_f32.bin", ours.size());
  // Measured: mean 0.0051; a crop misplaced by half a pixel gives 0.019.
  const auto [mean, p99] = mean_and_p99(ours, theirs);
  EXPECT_LT(mean, 0.01);
  EXPECT_LT(p99, 0.06);
  // The padding rows (above and below the 548x342 image) are black, i.e. -1.
  EXPECT_FLOAT_EQ(ours[0], -1.0f);
  EXPECT_FLOAT_EQ(ours[ours.size() - 1], -1.0f);
}

TEST_F(BlazePoseReference, DecodedDetectionMatches) {
  const auto raw = read_floats(dir_ / "detector_output_2254x13_f32.bin", std::size_t(kAnchorCount) * 13);
  // The peer stores the score logit first, then the 12 regressors, per anchor.
  std::vector<float> regressors(std::size_t(kAnchorCount) * kDetectorCoords), logits(kAnchorCount);
  for (int i = 0; i < kAnchorCount; ++i) {
    logits[std::size_t(i)] = raw[std::size_t(i) * 13];
    std::copy_n(raw.begin() + std::ptrdiff_t(i) * 13 + 1, kDetectorCoords, regressors.begin() + std::ptrdiff_t(i) * 12);
  }
  const RotatedRect letterbox = letterbox_region(image_.width(), image_.height());
  const auto candidates = decode_detections(regressors, logits, 0.5, letterbox);
  const auto& det_ref = ref_["detector"];
  EXPECT_EQ(int(candidates.size()), det_ref["num_above_0_5"].get<int>());

  // The best single anchor is the reference's detection.
  const auto best = *std::max_element(candidates.begin(), candidates.end(),
                                      [](const auto& a, const auto& b) { return a.score < b.score; });
  EXPECT_NEAR(best.score, det_ref["score"].get<double>(), 1e-6);
  for (int k = 0; k < 4; ++k)
    EXPECT_LT((best.keypoints.col(k) - ref_point(det_ref["keypoints_img_px"][k])).norm(), 1e-3) << "keypoint " << k;
  const auto& box = det_ref["box_norm_letterboxed"];
  const double side = letterbox.width;
  EXPECT_NEAR(best.box[2], box["w"].get<double>() * side, 1e-3);
  EXPECT_NEAR(best.box[0] + best.box[2] / 2, (box["cx"].get<double>() - 0.5) * side + image_.width() / 2.0 - 0.5, 1e-3);

  // After weighted suppression one person remains, close to the best anchor.
  const auto merged = weighted_nms(candidates, 0.3);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_DOUBLE_EQ(merged[0].score, best.score);
  EXPECT_LT((merged[0].keypoints.col(0) - best.keypoints.col(0)).norm(), 5.0);

  // The region from the reference's alignment points is the reference's region.
  const RotatedRect roi = roi_from_alignment(best.keypoints.col(0), best.keypoints.col(1));
  const RotatedRect expected = ref_roi(ref_);
  EXPECT_LT((roi.center - expected.center).norm(), 1e-3);
  EXPECT_NEAR(roi.width, expected.width, 1e-3);
  EXPECT_NEAR(roi.rotation, expected.rotation, 1e-6);
}

TEST_F(BlazePoseReference, RotatedLandmarkCropMatches) {
  std::vector<float> ours(std::size_t(kLandmarkInputSize) * kLandmarkInputSize * 3);
  CropScratch scratch;
  crop_to_tensor(image_.view(), ref_roi(ref_), kLandmarkInputSize, 0.0f, 1.0f, ours, scratch);
  const auto theirs = read_floats(dir_ / "landmark_input_256x256x3_f32.bin", ours.size());
  const auto [mean, p99] = mean_and_p99(ours, theirs);
  // Measured: mean 0.0043 (a crop misplaced by half a pixel: 0.011), 99th percentile 0.045.
  EXPECT_LT(mean, 0.006);
  EXPECT_LT(p99, 0.07);
}

TEST_F(BlazePoseReference, LandmarksMapBackToTheImage) {
  const auto ld = read_floats(dir_ / "landmark_full_out_ld3d_195_f32.bin", 195);
  const auto world = read_floats(dir_ / "landmark_full_out_world_117_f32.bin", 117);
  const auto seg_prob = read_floats(dir_ / "landmark_full_out_seg_sigmoid_256x256_f32.bin", 256 * 256);
  const auto heat_prob = read_floats(dir_ / "landmark_full_out_heatmap_sigmoid_64x64x39_f32.bin", 64 * 64 * 39);
  std::vector<float> seg(seg_prob.size()), heat(heat_prob.size());
  std::transform(seg_prob.begin(), seg_prob.end(), seg.begin(), [](float p) { return float(logit(p)); });
  std::transform(heat_prob.begin(), heat_prob.end(), heat.begin(), [](float p) { return float(logit(p)); });
  const float flag = ref_["landmark_full"]["pose_flag"].get<float>();
  const LandmarkTensors tensors{ld, std::span<const float>(&flag, 1), seg, heat, world};
  const RotatedRect roi = ref_roi(ref_);

  Pose pose;
  decode_landmarks(tensors, roi,
                   {.refine_with_heatmaps = false,
                    .keep_heatmaps = true,
                    .segmentation = true,
                    .image_width = image_.width(),
                    .image_height = image_.height()},
                   pose);
  const auto& lms = ref_["landmark_full"]["landmarks"];
  ASSERT_EQ(pose.landmarks.cols(), 33);
  for (int j = 0; j < 33; ++j) {
    const Eigen::Vector2d expected(lms[j]["x_img"].get<double>() - 0.5, lms[j]["y_img"].get<double>() - 0.5);
    EXPECT_LT((pose.landmarks.col(j).head<2>() - expected).norm(), 1e-6) << "landmark " << j;
    EXPECT_NEAR(pose.visibility[j], lms[j]["visibility"].get<double>(), 1e-6);
    EXPECT_NEAR(pose.landmark_presence[j], lms[j]["presence"].get<double>(), 1e-6);
    EXPECT_NEAR(pose.landmarks(2, j), lms[j]["z_crop"].get<double>() / 256 * roi.width, 1e-6);
  }
  EXPECT_NEAR(pose.presence, flag, 1e-7);
  // The alignment points are auxiliary landmarks 33 and 34.
  EXPECT_NEAR(pose.alignment(0, 1), lms[34]["x_img"].get<double>() - 0.5, 1e-6);

  // World landmarks: metres about the hip centre, turned from the crop's orientation into the image's.
  const Eigen::Vector3d hips = (pose.world_landmarks.col(23) + pose.world_landmarks.col(24)) / 2;
  EXPECT_LT(hips.norm(), 0.05);
  for (int j = 0; j < 33; ++j) {
    const Eigen::Vector3d raw(world[std::size_t(j) * 3], world[std::size_t(j) * 3 + 1], world[std::size_t(j) * 3 + 2]);
    EXPECT_NEAR(pose.world_landmarks.col(j).norm(), raw.norm(), 1e-6);
    EXPECT_NEAR(pose.world_landmarks(2, j), raw.z(), 1e-9);
  }
  // Turned back, the hips -> nose direction in the world agrees with the image's (within 10 degrees).
  const Eigen::Vector2d up_world = (pose.world_landmarks.col(0) - hips).head<2>().normalized();
  const Eigen::Vector2d up_image =
      (pose.landmarks.col(0).head<2>() - (pose.landmarks.col(23) + pose.landmarks.col(24)).head<2>() / 2).normalized();
  EXPECT_GT(up_world.dot(up_image), std::cos(10 * std::numbers::pi / 180));

  // The mask in the image agrees with the crop's mask sampled at the same places.
  ASSERT_EQ(pose.mask.width, image_.width());
  const Affine to_image = input_to_image(roi, 256);
  double diff = 0;
  int n = 0, person = 0;
  for (int r = 0; r < 256; r += 3)
    for (int c = 0; c < 256; c += 3) {
      const Eigen::Vector2d p = apply(to_image, {c, r});
      const int x = int(std::lround(p.x())), y = int(std::lround(p.y()));
      if (x < 1 || y < 1 || x >= image_.width() - 1 || y >= image_.height() - 1) continue;
      diff += std::abs(pose.mask.at(x, y) - seg_prob[std::size_t(r) * 256 + c]);
      person += seg_prob[std::size_t(r) * 256 + c] > 0.5;
      ++n;
    }
  ASSERT_GT(n, 1000);
  EXPECT_GT(person, n / 20);
  EXPECT_LT(diff / n, 0.03);            // rounding to the nearest pixel, on soft edges
  EXPECT_EQ(pose.mask.at(0, 0), 0.0f);  // outside the crop

  // Heatmaps: the peak of the left hip's channel lies near the left hip.
  const SegmentationMask hip = pose.heatmaps.in_image(23, image_.width(), image_.height());
  const auto peak = std::max_element(hip.values.begin(), hip.values.end()) - hip.values.begin();
  const Eigen::Vector2d at(double(peak % hip.width), double(peak / hip.width));
  EXPECT_LT((at - pose.landmarks.col(23).head<2>()).norm(), 2 * roi.width / 64);

  // Refining with the heatmaps moves most landmarks by under a heatmap cell (measured median 0.6), none by
  // more than three.
  Pose refined;
  decode_landmarks(tensors, roi, {.refine_with_heatmaps = true}, refined);
  const double cell = roi.width / 64;
  std::vector<double> moves;
  for (int j = 0; j < 33; ++j) {
    moves.push_back((refined.landmarks.col(j) - pose.landmarks.col(j)).head<2>().norm());
    EXPECT_LT(moves.back(), 3 * cell) << "landmark " << j;
  }
  std::nth_element(moves.begin(), moves.begin() + 16, moves.end());
  EXPECT_LT(moves[16], 1.0 * cell);
  EXPECT_GT(moves[16], 1e-6);
  EXPECT_TRUE(refined.mask.empty());
}

}  // namespace
}  // namespace monobody::blazepose
