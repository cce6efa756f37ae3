// The XNNPACK backend against the reference kernels: every operator and option the reader accepts, on
// random data, then the four BlazePose networks on real inputs.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <fstream>
#include <monobody/nn.hpp>
#include <random>

#include "backends.hpp"
#include "fuzz_seeds.hpp"
#include "narrow_kernels.hpp"
#include "test_model_builder.hpp"
#include "test_support.hpp"

namespace monobody::nn {
namespace {

namespace fb = test::fb;
using test::ModelBuilder;

std::vector<float> random_values(std::size_t count, std::mt19937& rng, float low = -3.0f, float high = 3.0f) {
  std::uniform_real_distribution<float> uniform(low, high);
  std::vector<float> v(count);
  for (float& x : v) x = uniform(rng);
  return v;
}

std::size_t elements(const std::vector<int>& shape) {
  std::size_t n = 1;
  for (int d : shape) n *= static_cast<std::size_t>(d);
  return n;
}

// Runs the model on both backends (XNNPACK with 1 and 2 threads) with the same random inputs and returns
// the largest difference from the reference over all outputs.
float max_difference(const std::vector<std::uint8_t>& file, std::uint32_t seed = 1) {
  auto reference = make_model(read_tflite(file), {Backend::Reference, 1});
  std::mt19937 rng(seed);
  for (int i = 0; i < reference->input_count(); ++i) {
    const auto values = random_values(reference->input(i).size(), rng);
    std::copy(values.begin(), values.end(), reference->input(i).begin());
  }
  reference->invoke();
  float worst = 0;
  for (int threads : {1, 2}) {
    auto fast = make_model(read_tflite(file), {Backend::Xnnpack, threads});
    for (int i = 0; i < fast->input_count(); ++i) {
      std::copy(reference->input(i).begin(), reference->input(i).end(), fast->input(i).begin());
    }
    fast->invoke();
    for (int o = 0; o < fast->output_count(); ++o) {
      const auto a = reference->output(o);
      const auto b = fast->output(o);
      EXPECT_EQ(a.size(), b.size());
      for (std::size_t k = 0; k < a.size(); ++k) {
        const float diff = std::abs(a[k] - b[k]);
        if (!(diff <= worst)) worst = diff;  // NaN propagates as a failure
      }
    }
  }
  return worst;
}

struct ConvCase {
  bool depthwise;
  int size, in_channels, out_channels, kernel, stride, dilation;
  fb::Padding padding;
  fb::ActivationFunctionType activation;
  bool bias;
};

std::vector<std::uint8_t> conv_model(const ConvCase& c) {
  ModelBuilder b;
  std::mt19937 rng(7);
  const int x = b.tensor({1, c.size, c.size, c.in_channels});
  const std::vector<int> filter_shape = c.depthwise ? std::vector<int>{1, c.kernel, c.kernel, c.out_channels}
                                                    : std::vector<int>{c.out_channels, c.kernel, c.kernel, c.in_channels};
  const int filter = b.floats(filter_shape, random_values(elements(filter_shape), rng, -0.5f, 0.5f));
  const int bias = c.bias ? b.floats({c.out_channels}, random_values(static_cast<std::size_t>(c.out_channels), rng)) : -1;
  const int effective = (c.kernel - 1) * c.dilation + 1;
  const int out = c.padding == fb::Padding_SAME ? (c.size + c.stride - 1) / c.stride : (c.size - effective) / c.stride + 1;
  const int y = b.tensor({1, out, out, c.out_channels});
  if (c.depthwise) {
    const auto options = fb::CreateDepthwiseConv2DOptions(b.fbb, c.padding, c.stride, c.stride,
                                                          c.out_channels / c.in_channels, c.activation, c.dilation,
                                                          c.dilation).Union();
    b.op(test::kDepthwiseConv2D, {x, filter, bias}, {y}, fb::BuiltinOptions_DepthwiseConv2DOptions, options);
  } else {
    const auto options =
        fb::CreateConv2DOptions(b.fbb, c.padding, c.stride, c.stride, c.activation, c.dilation, c.dilation).Union();
    b.op(test::kConv2D, {x, filter, bias}, {y}, fb::BuiltinOptions_Conv2DOptions, options);
  }
  return b.finish({x}, {y});
}

// A convolution output sums up to 5*5*16 products of values below 3 * 0.5: results of order 10 whose
// float32 rounding depends on summation order. 1e-4 is ~100 ulps at that magnitude; a wrong tap, padding
// or channel order gives errors of order 1.
TEST(XnnpackOps, ConvolutionsMatchTheReference) {
  const auto same = fb::Padding_SAME, valid = fb::Padding_VALID;
  const auto none = fb::ActivationFunctionType_NONE, relu6 = fb::ActivationFunctionType_RELU6,
             relu = fb::ActivationFunctionType_RELU;
  const ConvCase cases[] = {
      {false, 9, 5, 7, 3, 1, 1, same, relu6, true},    {false, 10, 3, 8, 3, 2, 1, valid, none, true},
      {false, 10, 4, 6, 3, 2, 1, same, relu, true},    {false, 8, 16, 12, 1, 1, 1, valid, none, false},
      {false, 11, 3, 4, 5, 1, 2, same, none, true},    {true, 9, 6, 6, 3, 1, 1, same, relu6, true},
      {true, 10, 8, 8, 5, 2, 1, same, none, true},     {true, 10, 4, 4, 3, 2, 1, valid, relu6, false},
      {true, 7, 3, 6, 3, 1, 1, same, none, true},      {true, 12, 5, 5, 3, 1, 2, same, relu, true},
  };
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << (c.depthwise ? "depthwise" : "conv") << " size " << c.size << " k" << c.kernel
                                      << " s" << c.stride << " d" << c.dilation << " pad " << c.padding);
    EXPECT_LT(max_difference(conv_model(c)), 1e-4f);
  }
}

// Our kernels for narrow 3x3 convolutions (narrow_kernels.hpp): the shapes they take, widths that are and
// are not multiples of 8 (the one-channel convolution reduces eight pixels at once), with and without bias
// and clamp. Same tolerance as above.
TEST(XnnpackOps, NarrowConvolutionsMatchTheReference) {
  const auto same = fb::Padding_SAME;
  const auto none = fb::ActivationFunctionType_NONE, relu6 = fb::ActivationFunctionType_RELU6;
  const ConvCase cases[] = {
      {true, 17, 8, 8, 3, 1, 1, same, relu6, true},    {true, 9, 16, 16, 3, 1, 1, same, none, false},
      {true, 33, 24, 24, 3, 1, 1, same, relu6, true},  {true, 40, 32, 32, 3, 1, 1, same, none, true},
      {false, 19, 8, 1, 3, 1, 1, same, none, true},    {false, 16, 16, 1, 3, 1, 1, same, relu6, false},
  };
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << (c.depthwise ? "depthwise" : "conv") << " size " << c.size << " channels "
                                      << c.in_channels);
    const auto model = conv_model(c);
    const Graph graph = read_tflite(model);
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) GTEST_SKIP() << "no AVX2/FMA here";
    EXPECT_NE(detail::narrow_kernel_for(graph, graph.operations[0]), detail::NarrowKernel::None);
    EXPECT_LT(max_difference(model), 1e-4f);
  }
}

// Our kernels between XNNPACK runtimes: a tensor made in one part and read in another (also a graph output),
// a residual sum across a kernel of ours, and two of ours back to back.
TEST(XnnpackOps, GraphsSplitAroundOurKernelsMatchTheReference) {
  ModelBuilder b;
  std::mt19937 rng(11);
  const int channels = 8, size = 21;
  const std::vector<int> map{1, size, size, channels};
  auto weights = [&](std::vector<int> shape) { return b.floats(shape, random_values(elements(shape), rng, -0.5f, 0.5f)); };
  const int x = b.tensor({1, size, size, 3});
  const int a = b.tensor(map), d1 = b.tensor(map), d2 = b.tensor(map), sum = b.tensor(map), one = b.tensor({1, size, size, 1});
  const auto conv = [&] {
    return fb::CreateConv2DOptions(b.fbb, fb::Padding_SAME, 1, 1, fb::ActivationFunctionType_RELU6).Union();
  };
  const auto depthwise = [&] {
    return fb::CreateDepthwiseConv2DOptions(b.fbb, fb::Padding_SAME, 1, 1, 1, fb::ActivationFunctionType_RELU6).Union();
  };
  b.op(test::kConv2D, {x, weights({channels, 1, 1, 3}), weights({channels})}, {a}, fb::BuiltinOptions_Conv2DOptions, conv());
  b.op(test::kDepthwiseConv2D, {a, weights({1, 3, 3, channels}), weights({channels})}, {d1},
       fb::BuiltinOptions_DepthwiseConv2DOptions, depthwise());
  b.op(test::kDepthwiseConv2D, {d1, weights({1, 3, 3, channels}), -1}, {d2}, fb::BuiltinOptions_DepthwiseConv2DOptions,
       depthwise());
  b.op(test::kAdd, {a, d2}, {sum}, fb::BuiltinOptions_AddOptions, fb::CreateAddOptions(b.fbb).Union());
  b.op(test::kConv2D, {sum, weights({1, 3, 3, channels}), weights({1})}, {one}, fb::BuiltinOptions_Conv2DOptions,
       fb::CreateConv2DOptions(b.fbb, fb::Padding_SAME, 1, 1).Union());
  const auto model = b.finish({x}, {d1, one});
  EXPECT_LT(max_difference(model), 1e-4f);
  // And the same without our kernels, for comparison.
  auto reference = make_model(read_tflite(model), {Backend::Reference, 1});
  auto plain = make_model(read_tflite(model), {.backend = Backend::Xnnpack, .threads = 1, .own_kernels = false});
  const auto input = random_values(reference->input(0).size(), rng);
  std::copy(input.begin(), input.end(), reference->input(0).begin());
  std::copy(input.begin(), input.end(), plain->input(0).begin());
  reference->invoke();
  plain->invoke();
  for (int o = 0; o < 2; ++o) {
    for (std::size_t k = 0; k < reference->output(o).size(); ++k)
      ASSERT_NEAR(reference->output(o)[k], plain->output(o)[k], 1e-4f) << "output " << o << " element " << k;
  }
}

std::vector<std::uint8_t> unary_model(std::int32_t builtin, const std::vector<int>& in_shape,
                                      const std::vector<int>& out_shape, fb::BuiltinOptions type = fb::BuiltinOptions_NONE,
                                      std::function<flatbuffers::Offset<void>(ModelBuilder&)> options = {},
                                      std::function<int(ModelBuilder&)> second = {}) {
  ModelBuilder b;
  const int x = b.tensor(in_shape);
  const int y = b.tensor(out_shape);
  std::vector<int> inputs{x};
  if (second) inputs.push_back(second(b));
  const auto o = options ? options(b) : flatbuffers::Offset<void>(0);
  b.op(builtin, inputs, {y}, type, o);
  return b.finish({x}, {y});
}

// Data movement and max pooling compute no new values: the two backends must agree exactly.
TEST(XnnpackOps, DataMovementIsExact) {
  using B = ModelBuilder;
  EXPECT_EQ(max_difference(unary_model(test::kPad, {1, 5, 6, 3}, {1, 8, 9, 3}, fb::BuiltinOptions_PadOptions,
                                       [](B& b) { return fb::CreatePadOptions(b.fbb).Union(); },
                                       [](B& b) { return b.ints({4, 2}, {0, 0, 1, 2, 2, 1, 0, 0}); })),
            0.0f);
  EXPECT_EQ(max_difference(unary_model(test::kReshape, {1, 28, 28, 2}, {1, 1568, 1}, fb::BuiltinOptions_NONE, {},
                                       [](B& b) { return b.ints({3}, {1, -1, 1}); })),
            0.0f);
  EXPECT_EQ(max_difference(unary_model(test::kDepthToSpace, {1, 7, 5, 12}, {1, 14, 10, 3},
                                       fb::BuiltinOptions_DepthToSpaceOptions,
                                       [](B& b) { return fb::CreateDepthToSpaceOptions(b.fbb, 2).Union(); })),
            0.0f);
  for (auto [size, padding, out] : {std::tuple{2, fb::Padding_VALID, 4}, std::tuple{3, fb::Padding_SAME, 5}}) {
    EXPECT_EQ(max_difference(unary_model(test::kMaxPool2D, {1, 9, 9, 5}, {1, out, out, 5}, fb::BuiltinOptions_Pool2DOptions,
                                         [&](B& b) {
                                           return fb::CreatePool2DOptions(b.fbb, padding, 2, 2, size, size).Union();
                                         })),
              0.0f)
        << "max pool " << size;
  }
}

TEST(XnnpackOps, ConcatenationIsExact) {
  for (int axis : {1, 3, -1}) {
    ModelBuilder b;
    const bool channels = axis != 1;
    const std::vector<std::vector<int>> shapes =
        channels ? std::vector<std::vector<int>>{{1, 4, 4, 2}, {1, 4, 4, 5}, {1, 4, 4, 1}}
                 : std::vector<std::vector<int>>{{1, 1568, 12}, {1, 392, 12}, {1, 294, 12}};
    std::vector<int> inputs;
    for (const auto& s : shapes) inputs.push_back(b.tensor(s));
    const int y = b.tensor(channels ? std::vector<int>{1, 4, 4, 8} : std::vector<int>{1, 2254, 12});
    b.op(test::kConcatenation, inputs, {y}, fb::BuiltinOptions_ConcatenationOptions,
         fb::CreateConcatenationOptions(b.fbb, axis).Union());
    EXPECT_EQ(max_difference(b.finish(inputs, {y})), 0.0f) << "axis " << axis;
  }
}

TEST(XnnpackOps, ElementwiseMatchTheReference) {
  for (auto activation : {fb::ActivationFunctionType_NONE, fb::ActivationFunctionType_RELU6,
                          fb::ActivationFunctionType_RELU, fb::ActivationFunctionType_RELU_N1_TO_1}) {
    ModelBuilder b;
    const int x0 = b.tensor({1, 6, 7, 9});
    const int x1 = b.tensor({1, 6, 7, 9});
    const int y = b.tensor({1, 6, 7, 9});
    b.op(test::kAdd, {x0, x1}, {y}, fb::BuiltinOptions_AddOptions, fb::CreateAddOptions(b.fbb, activation).Union());
    EXPECT_EQ(max_difference(b.finish({x0, x1}, {y})), 0.0f) << "activation " << activation;  // one rounding each
  }
  // XNNPACK's sigmoid is a polynomial approximation accurate to a few ulps; outputs lie in (0, 1).
  EXPECT_LT(max_difference(unary_model(test::kLogistic, {1, 16, 16, 3}, {1, 16, 16, 3})), 1e-6f);
}

// Interpolation weights are computed differently (XNNPACK precomputes them per output column): results
// of magnitude 3 agree to a few ulps, while a wrong sampling convention is off by ~0.1.
TEST(XnnpackOps, ResizeBilinearMatchesTheReference) {
  struct Case {
    int in_h, in_w, out_h, out_w;
    bool align_corners, half_pixel_centers;
  };
  for (const Case& c : {Case{7, 7, 14, 14, false, true}, Case{5, 6, 8, 13, false, true}, Case{8, 8, 16, 16, false, false},
                        Case{4, 5, 9, 7, true, false}, Case{9, 9, 4, 4, false, true}}) {
    const auto model = unary_model(
        test::kResizeBilinear, {1, c.in_h, c.in_w, 3}, {1, c.out_h, c.out_w, 3}, fb::BuiltinOptions_ResizeBilinearOptions,
        [&](ModelBuilder& b) { return fb::CreateResizeBilinearOptions(b.fbb, c.align_corners, c.half_pixel_centers).Union(); },
        [&](ModelBuilder& b) { return b.ints({2}, {c.out_h, c.out_w}); });
    EXPECT_LT(max_difference(model), 1e-5f) << c.in_h << "x" << c.in_w << " -> " << c.out_h << "x" << c.out_w
                                            << " align " << c.align_corners << " half " << c.half_pixel_centers;
  }
}

// Small chains of operators: graph outputs also read by later operators, two inputs and two outputs,
// sparse fp16 weights. Tolerance as for the convolutions above.
TEST(XnnpackOps, SmallGraphsMatchTheReference) {
  for (const auto& model : fuzz_seed_models()) EXPECT_LT(max_difference(model), 1e-4f);
}

std::vector<float> read_floats(const std::filesystem::path& path, std::size_t count) {
  std::vector<float> values(count);
  std::ifstream file(path, std::ios::binary);
  file.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(count * sizeof(float)));
  EXPECT_TRUE(file.good()) << path;
  return values;
}

// The whole networks on the peer's real inputs. Both backends compute in float32 with different
// summation orders (XNNPACK's GEMM blocking, FMA). Through ~100 layers that measured at most 8e-4 on
// landmarks of magnitude ~250 and 2e-6 m on world landmarks of ~0.8, but 0.79 on segmentation logits
// that reach |1850| in the background, where partial cancellation makes values near zero relatively
// noisy. So each output is held to 1e-3 of its largest magnitude (a wrong kernel errs by O(that)), and
// the mask itself, the sigmoid of the logits, to 1e-3 per pixel.
void expect_backends_agree(const char* model_name, const char* input_file, std::size_t input_size) {
  MONOBODY_MODEL_FILE_OR_SKIP(path, model_name);
  MONOBODY_SHARED_FILE_OR_SKIP(input_path, std::string("../reference/blazepose/") + input_file);
  const auto input = read_floats(input_path, input_size);
  auto reference = Model::load(path, {Backend::Reference, 1});
  std::copy(input.begin(), input.end(), reference->input(0).begin());
  reference->invoke();
  for (int threads : {1, 2}) {
    auto fast = Model::load(path, {Backend::Xnnpack, threads});
    ASSERT_EQ(fast->output_count(), reference->output_count());
    std::copy(input.begin(), input.end(), fast->input(0).begin());
    fast->invoke();
    for (int o = 0; o < fast->output_count(); ++o) {
      const auto a = reference->output(o), b = fast->output(o);
      float worst = 0, largest = 0, worst_sigmoid = 0;
      for (std::size_t k = 0; k < a.size(); ++k) {
        worst = std::max(worst, std::abs(a[k] - b[k]));
        largest = std::max(largest, std::abs(a[k]));
        worst_sigmoid = std::max(worst_sigmoid, std::abs(1 / (1 + std::exp(-a[k])) - 1 / (1 + std::exp(-b[k]))));
      }
      const std::string what = fmt::format("{} output {} threads {}", model_name, fast->output_name(o), threads);
      EXPECT_LE(worst, 1e-3f * largest) << what;
      if (fast->output_name(o) == "Identity_2") {
        EXPECT_LT(worst_sigmoid, 1e-3f) << what;
      }
    }
  }
}

TEST(XnnpackModels, DetectorMatchesTheReference) {
  expect_backends_agree("pose_detection.tflite", "detector_input_224x224x3_f32.bin", 224 * 224 * 3);
}
TEST(XnnpackModels, LandmarkLiteMatchesTheReference) {
  expect_backends_agree("pose_landmark_lite.tflite", "landmark_input_256x256x3_f32.bin", 256 * 256 * 3);
}
TEST(XnnpackModels, LandmarkFullMatchesTheReference) {
  expect_backends_agree("pose_landmark_full.tflite", "landmark_input_256x256x3_f32.bin", 256 * 256 * 3);
}
TEST(XnnpackModels, LandmarkHeavyMatchesTheReference) {
  expect_backends_agree("pose_landmark_heavy.tflite", "landmark_input_256x256x3_f32.bin", 256 * 256 * 3);
}

// A model with a pool runs each inference on the pool or on the calling thread alone, whichever has lately
// been faster (it tries the other way at the 3rd invocation and then every 32 or more): both must give
// the very same numbers, so a caller never sees which was used.
TEST(XnnpackModels, RepeatedInvocationsGiveTheSameResult) {
  MONOBODY_MODEL_FILE_OR_SKIP(path, "pose_landmark_lite.tflite");
  auto model = Model::load(path, {Backend::Xnnpack, 2});
  auto single = Model::load(path, {Backend::Xnnpack, 1});
  std::mt19937 rng(3);
  const auto input = random_values(model->input(0).size(), rng, 0.0f, 1.0f);
  std::copy(input.begin(), input.end(), model->input(0).begin());
  std::copy(input.begin(), input.end(), single->input(0).begin());
  single->invoke();
  for (int i = 0; i < 40; ++i) {
    model->invoke();
    for (int o = 0; o < model->output_count(); ++o) {
      ASSERT_TRUE(std::equal(single->output(o).begin(), single->output(o).end(), model->output(o).begin()))
          << "invocation " << i << ", output " << o;
    }
  }
}

}  // namespace
}  // namespace monobody::nn
