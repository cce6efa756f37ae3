// The reference backend against the peer runtime (tfjs + XNNPACK-in-wasm, same weights) on the raw
// tensors in <shared>/reference/blazepose/.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <monobody/nn.hpp>

#include "test_support.hpp"

namespace monobody::nn {
namespace {

std::vector<float> read_floats(const std::filesystem::path& path, std::size_t count) {
  std::vector<float> values(count);
  std::ifstream file(path, std::ios::binary);
  file.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(count * sizeof(float)));
  EXPECT_TRUE(file.good() && file.peek() == std::char_traits<char>::eof()) << path << " is not " << count << " floats";
  return values;
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

float max_abs_diff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// The full landmark model on the peer's 256x256 crop of messi5.jpg. Both runtimes compute in float32
// from the same fp16 weights; they differ only in summation order (and the peer's XNNPACK uses FMA and
// its own sigmoid approximation), which over ~100 layers leaves differences of a few 1e-4 in crop pixels.
TEST(ReferenceBackend, LandmarkFullMatchesThePeer) {
  MONOBODY_MODEL_FILE_OR_SKIP(model_path, "pose_landmark_full.tflite");
  MONOBODY_SHARED_FILE_OR_SKIP(ref, "../reference/blazepose/landmark_input_256x256x3_f32.bin");
  const auto dir = ref.parent_path();
  auto model = Model::load(model_path, {Backend::Reference, 1});
  const auto input = read_floats(ref, 256 * 256 * 3);
  std::copy(input.begin(), input.end(), model->input(0).begin());
  model->invoke();

  const auto landmarks = model->output(model->output_index("Identity"));
  const auto peer_landmarks = read_floats(dir / "landmark_full_out_ld3d_195_f32.bin", 195);
  // Per point: x, y in crop pixels (0..256), z on the same scale (|z| up to ~200 here), then visibility
  // and presence logits. Measured: x, y within 0.005 px, z and logits within 0.05 (3e-4 relative).
  for (std::size_t i = 0; i < 195; ++i) {
    const bool xy = i % 5 < 2;
    EXPECT_NEAR(landmarks[i], peer_landmarks[i], xy ? 0.01f : 0.1f) << "value " << i % 5 << " of point " << i / 5;
  }

  const auto world = model->output(model->output_index("Identity_4"));
  EXPECT_LT(max_abs_diff(world, read_floats(dir / "landmark_full_out_world_117_f32.bin", 117)), 1e-4f);  // metres

  const auto presence = model->output(model->output_index("Identity_1"));
  EXPECT_GT(presence[0], 0.9f);  // a probability (the graph ends in LOGISTIC): a person is there

  std::vector<float> mask(256 * 256);
  const auto segmentation = model->output(model->output_index("Identity_2"));
  std::transform(segmentation.begin(), segmentation.end(), mask.begin(), sigmoid);
  const auto peer_mask = read_floats(dir / "landmark_full_out_seg_sigmoid_256x256_f32.bin", mask.size());
  // Logit differences like the landmarks' are steepest at the person's outline: measured 0.0055 at most.
  EXPECT_LT(max_abs_diff(mask, peer_mask), 0.02f);
  std::size_t both = 0, either = 0;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    both += mask[i] > 0.5f && peer_mask[i] > 0.5f;
    either += mask[i] > 0.5f || peer_mask[i] > 0.5f;
  }
  ASSERT_GT(either, 1000u);  // the person covers a good part of the crop
  EXPECT_GT(static_cast<double>(both) / static_cast<double>(either), 0.999);  // mask IoU

  std::vector<float> heat(64 * 64 * 39);
  const auto heatmap = model->output(model->output_index("Identity_3"));
  std::transform(heatmap.begin(), heatmap.end(), heat.begin(), sigmoid);
  EXPECT_LT(max_abs_diff(heat, read_floats(dir / "landmark_full_out_heatmap_sigmoid_64x64x39_f32.bin", heat.size())), 1e-4f);
}

// The peer's detector is a variant of ours (Relu where ours has RELU6), so only the decision it leads to
// is compared: the same best anchor, a confident score, and its box within a few pixels. The peer's file
// holds per anchor the score logit first, then the 12 regression values (see its ref.mjs).
TEST(ReferenceBackend, DetectorAgreesWithThePeerOnTheBestAnchor) {
  MONOBODY_MODEL_FILE_OR_SKIP(model_path, "pose_detection.tflite");
  MONOBODY_SHARED_FILE_OR_SKIP(ref, "../reference/blazepose/detector_input_224x224x3_f32.bin");
  auto model = Model::load(model_path, {Backend::Reference, 1});
  const auto input = read_floats(ref, 224 * 224 * 3);
  std::copy(input.begin(), input.end(), model->input(0).begin());
  model->invoke();
  const auto peer = read_floats(ref.parent_path() / "detector_output_2254x13_f32.bin", 2254 * 13);
  const auto boxes = model->output(model->output_index("Identity"));
  const auto scores = model->output(model->output_index("Identity_1"));
  std::size_t best = 0, peer_best = 0;
  for (std::size_t a = 0; a < 2254; ++a) {
    if (scores[a] > scores[best]) best = a;
    if (peer[a * 13] > peer[peer_best * 13]) peer_best = a;
  }
  EXPECT_EQ(best, peer_best);
  EXPECT_EQ(best, 641u);  // the peer's reference JSON: best_anchor 641, score 0.85
  EXPECT_GT(sigmoid(scores[best]), 0.8f);
  // In 224-px units: box centre and size within 4 (measured 2.9), the four alignment keypoints within
  // 8 (measured 7): the variants' different activations move the keypoints more than the box.
  for (std::size_t k = 0; k < 12; ++k) EXPECT_NEAR(boxes[best * 12 + k], peer[best * 13 + 1 + k], k < 4 ? 4.0f : 8.0f) << k;
}

}  // namespace
}  // namespace monobody::nn
