// monobody's own inference runtime for TensorFlow Lite models (the pretrained BlazePose networks).
//
// A model is read and validated once (Model::load), its weights converted to float32 (fp16 and sparse
// weights are expanded at load), and run many times. Inputs and outputs are float32, NHWC, C order.
// Buffers are owned by the model and reused across calls: no allocation per inference.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace monobody::nn {

enum class Backend {
  Xnnpack,    // the fast path: XNNPACK subgraph runtime with a thread pool
  Reference,  // plain portable kernels, one per operator: the oracle for tests
};

struct ModelOptions {
  Backend backend = Backend::Xnnpack;
  // >= 1. XNNPACK's pool synchronises its threads after every operator, so extra threads only pay off on
  // otherwise idle cores: on an oversubscribed machine a pool of 2 was measured up to 30x slower than one
  // thread. So a model with a pool checks before each inference whether its workers can get a core (an
  // empty task on the pool), and runs on the calling thread alone while they cannot, or while that has
  // lately been faster. Results are the same either way, bit for bit.
  int threads = 1;
  // XNNPACK backend: run 3x3 convolutions over 8-24 channels (the landmark networks' full-resolution
  // segmentation head) on monobody's own AVX2 kernels, where XNNPACK is several times slower. Off: all
  // XNNPACK (for comparison). Ignored on CPUs without AVX2 and FMA.
  bool own_kernels = true;
};

// One model serves one thread at a time: invoke() uses the model's own buffers (and its thread pool).
// Load one Model per concurrent user.
class Model {
 public:
  // Throws monobody::Error with a one-line message for a missing, truncated or corrupt file, an
  // unsupported operator or tensor type, or inconsistent shapes.
  static std::unique_ptr<Model> load(const std::filesystem::path& path, const ModelOptions& options = {});
  virtual ~Model() = default;

  virtual int input_count() const = 0;
  virtual int output_count() const = 0;
  virtual const std::vector<int>& input_shape(int i) const = 0;
  virtual const std::vector<int>& output_shape(int i) const = 0;
  virtual const std::string& input_name(int i) const = 0;
  virtual const std::string& output_name(int i) const = 0;
  // Index of the output whose tensor name is `name`; throws monobody::Error if there is none.
  int output_index(std::string_view name) const;

  // Write the inputs here, call invoke(), read the outputs. Spans stay valid for the model's lifetime.
  virtual std::span<float> input(int i) = 0;
  virtual void invoke() = 0;
  virtual std::span<const float> output(int i) const = 0;
};

// The BlazePose networks' output tensor names (as stored in the .tflite files), by meaning; use them
// with Model::output_index.
namespace blazepose {
// pose_detection.tflite, input [1,224,224,3] in [-1,1]:
inline constexpr std::string_view kDetectorRegressions = "Identity";  // [1,2254,12] box + 4 keypoints per anchor
inline constexpr std::string_view kDetectorScores = "Identity_1";     // [1,2254,1] score logits
// pose_landmark_{lite,full,heavy}.tflite, input [1,256,256,3] in [0,1]:
inline constexpr std::string_view kLandmarks = "Identity";  // [1,195] 39 x (x, y, z in crop px, visibility, presence logits)
inline constexpr std::string_view kPresence = "Identity_1";        // [1,1] pose presence, a probability (sigmoid applied)
inline constexpr std::string_view kSegmentation = "Identity_2";    // [1,256,256,1] mask logits
inline constexpr std::string_view kHeatmap = "Identity_3";         // [1,64,64,39] heatmap logits
inline constexpr std::string_view kWorldLandmarks = "Identity_4";  // [1,117] 39 x (x, y, z) metres, hip-centred
}  // namespace blazepose

}  // namespace monobody::nn
