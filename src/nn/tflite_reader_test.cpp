#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <monobody/error.hpp>
#include <monobody/nn.hpp>

#include "graph.hpp"
#include "test_model_builder.hpp"
#include "test_support.hpp"

namespace monobody::nn {
namespace {

using ::testing::HasSubstr;
using test::ModelBuilder;
namespace fb = test::fb;

std::string error_of(const std::vector<std::uint8_t>& bytes) {
  try {
    read_tflite(bytes);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

int count(const Graph& graph, OpType type) {
  return static_cast<int>(std::count_if(graph.operations.begin(), graph.operations.end(),
                                        [&](const Operation& op) { return op.type == type; }));
}

TEST(HalfToFloat, ConvertsEveryKindOfValueExactly) {
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);              // largest normal
  EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(half_to_float(0x7c00), INFINITY);
  EXPECT_EQ(half_to_float(0xfc00), -INFINITY);
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)) && half_to_float(0x8000) == 0.0f);
}

// The facts the BlazePose pipeline relies on, read from the files.
TEST(TfliteReader, ReadsTheDetector) {
  MONOBODY_MODEL_FILE_OR_SKIP(path, "pose_detection.tflite");
  const Graph g = read_tflite_file(path);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.tensors[static_cast<std::size_t>(g.inputs[0])].shape, (std::vector<int>{1, 224, 224, 3}));
  ASSERT_EQ(g.outputs.size(), 2u);
  EXPECT_EQ(g.tensors[static_cast<std::size_t>(g.outputs[0])].shape, (std::vector<int>{1, 2254, 12}));
  EXPECT_EQ(g.tensors[static_cast<std::size_t>(g.outputs[1])].shape, (std::vector<int>{1, 2254, 1}));
  // 291 operators in the file: 144 DEQUANTIZE and 38 DENSIFY are evaluated at load.
  EXPECT_EQ(g.operations.size(), 291u - 144u - 38u);
  EXPECT_EQ(count(g, OpType::Conv2D), 45);
  EXPECT_EQ(count(g, OpType::DepthwiseConv2D), 28);
  EXPECT_EQ(count(g, OpType::Concatenation), 2);
  EXPECT_EQ(count(g, OpType::DepthToSpace), 3);
  // Every weight is a float32 constant now, and every convolution has a filter of the right size.
  for (const Operation& op : g.operations) {
    if (op.type != OpType::Conv2D && op.type != OpType::DepthwiseConv2D) continue;
    const Tensor& filter = g.tensors[static_cast<std::size_t>(op.inputs[1])];
    ASSERT_TRUE(filter.is_constant);
    EXPECT_EQ(filter.data.size(), filter.elements);
  }
}

TEST(TfliteReader, ReadsTheLandmarkModels) {
  for (const char* name : {"pose_landmark_lite.tflite", "pose_landmark_full.tflite", "pose_landmark_heavy.tflite"}) {
    MONOBODY_MODEL_FILE_OR_SKIP(path, name);
    const Graph g = read_tflite_file(path);
    SCOPED_TRACE(name);
    ASSERT_EQ(g.outputs.size(), 5u);
    const std::vector<std::vector<int>> shapes{{1, 195}, {1, 1}, {1, 256, 256, 1}, {1, 64, 64, 39}, {1, 117}};
    for (std::size_t i = 0; i < 5; ++i) {
      const Tensor& t = g.tensors[static_cast<std::size_t>(g.outputs[i])];
      EXPECT_EQ(t.shape, shapes[i]);
      EXPECT_EQ(t.name, i == 0 ? "Identity" : "Identity_" + std::to_string(i));
    }
    EXPECT_EQ(count(g, OpType::Logistic), 1);
    for (const Operation& op : g.operations) {
      if (op.type == OpType::ResizeBilinear) {
        EXPECT_TRUE(op.half_pixel_centers);
      }
    }
  }
}

TEST(TfliteReader, DensifiesSparseFp16Weights) {
  // Filter [2,1,1,3], rows stored as CSR on the last dimension: row 0 = (1.5, 0, -2), row 1 = (0, 0.25, 0).
  ModelBuilder b;
  auto& fbb = b.fbb;
  const std::vector<std::uint8_t> seg{0, 2, 3}, idx{0, 2, 1};
  const auto segments = fb::CreateUint8Vector(fbb, fbb.CreateVector(seg));
  const auto indices = fb::CreateUint8Vector(fbb, fbb.CreateVector(idx));
  std::vector<flatbuffers::Offset<fb::DimensionMetadata>> dims;
  for (int size : {2, 1, 1}) dims.push_back(fb::CreateDimensionMetadata(fbb, fb::DimensionType_DENSE, size));
  dims.push_back(fb::CreateDimensionMetadata(fbb, fb::DimensionType_SPARSE_CSR, 0, fb::SparseIndexVector_Uint8Vector,
                                             segments.Union(), fb::SparseIndexVector_Uint8Vector, indices.Union()));
  const std::vector<int> order{0, 1, 2, 3};
  const auto sparsity = fb::CreateSparsityParameters(fbb, fbb.CreateVector(order), 0, fbb.CreateVector(dims));
  const std::vector<std::uint16_t> halves{0x3e00, 0xc000, 0x3400};  // 1.5, -2, 0.25
  std::vector<std::uint8_t> bytes(6);
  std::memcpy(bytes.data(), halves.data(), 6);
  const int sparse = b.constant_bytes({2, 1, 1, 3}, fb::TensorType_FLOAT16, bytes, sparsity);
  const int dense16 = b.tensor({2, 1, 1, 3}, fb::TensorType_FLOAT16);
  const int filter = b.tensor({2, 1, 1, 3});
  const int x = b.tensor({1, 1, 1, 3});
  const int y = b.tensor({1, 1, 1, 2});
  b.op(test::kDensify, {sparse}, {dense16});
  b.op(test::kDequantize, {dense16}, {filter}, fb::BuiltinOptions_NONE, 0, 3);
  const auto options = fb::CreateConv2DOptions(fbb, fb::Padding_VALID, 1, 1).Union();
  b.op(test::kConv2D, {x, filter, -1}, {y}, fb::BuiltinOptions_Conv2DOptions, options);
  const Graph g = read_tflite(b.finish({x}, {y}));
  ASSERT_EQ(g.operations.size(), 1u);
  EXPECT_EQ(g.tensors[static_cast<std::size_t>(filter)].data, (std::vector<float>{1.5f, 0, -2, 0, 0.25f, 0}));
}

// A one-ADD model, then the same with one defect at a time.
std::vector<std::uint8_t> add_model(const std::vector<int>& out_shape = {1, 2, 2, 3}, int version = 1,
                                    std::int32_t builtin = test::kAdd, int second_input = -2) {
  ModelBuilder b;
  const int x = b.tensor({1, 2, 2, 3});
  const int y = b.tensor(out_shape);
  const auto options = fb::CreateAddOptions(b.fbb, fb::ActivationFunctionType_RELU6).Union();
  b.op(builtin, {x, second_input == -2 ? x : second_input}, {y}, fb::BuiltinOptions_AddOptions, options, version,
       builtin == test::kCustom ? "MyOp" : "");
  return b.finish({x}, {y});
}

TEST(TfliteReader, AcceptsAWellFormedModel) {
  const Graph g = read_tflite(add_model());
  ASSERT_EQ(g.operations.size(), 1u);
  EXPECT_EQ(g.operations[0].activation, Activation::Relu6);
}

TEST(TfliteReader, RejectsDefectsWithOneLineMessages) {
  EXPECT_THAT(error_of({}), HasSubstr("too short"));
  EXPECT_THAT(error_of(std::vector<std::uint8_t>(64, 0x5a)), HasSubstr("no TFL3 file identifier"));
  std::vector<std::uint8_t> truncated = add_model();
  truncated.resize(truncated.size() / 2);
  EXPECT_THAT(error_of(truncated), HasSubstr("corrupt or truncated"));
  EXPECT_THAT(error_of(add_model({1, 2, 2, 4})), HasSubstr("but the inputs and options give [1,2,2,3]"));
  EXPECT_THAT(error_of(add_model({1, 2, 2, 3}, 9)), HasSubstr("operator 0 (ADD): version 9 is not supported"));
  EXPECT_THAT(error_of(add_model({1, 2, 2, 3}, 1, test::kSoftmax)), HasSubstr("unsupported builtin operator code 25"));
  EXPECT_THAT(error_of(add_model({1, 2, 2, 3}, 1, test::kCustom)), HasSubstr("custom operator 'MyOp'"));
  EXPECT_THAT(error_of(add_model({1, 2, 2, 3}, 1, test::kAdd, 7)), HasSubstr("tensor index 7 out of range"));
  EXPECT_THAT(error_of(add_model({1, 2, 2, 3}, 1, test::kAdd, 1)), HasSubstr("read before any operator writes it"));
  for (const std::string& message : {error_of(truncated), error_of(add_model({1, 2, 2, 4}))}) {
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

TEST(TfliteReader, RejectsAConstantWhoseBufferDoesNotMatchItsShape) {
  ModelBuilder b;
  const int x = b.tensor({1, 1, 1, 2});
  const int w = b.floats({2, 1, 1, 2}, {1, 2, 3});  // 3 values for 4 elements
  const int y = b.tensor({1, 1, 1, 2});
  const auto options = fb::CreateConv2DOptions(b.fbb, fb::Padding_VALID, 1, 1).Union();
  b.op(test::kConv2D, {x, w}, {y}, fb::BuiltinOptions_Conv2DOptions, options);
  EXPECT_THAT(error_of(b.finish({x}, {y})), HasSubstr("needs 16 bytes, its buffer has 12"));
}

TEST(TfliteReader, RejectsAFilterThatDoesNotFitItsInput) {
  ModelBuilder b;
  const int x = b.tensor({1, 4, 4, 3});
  const int w = b.floats({2, 1, 1, 2}, std::vector<float>(4, 1.0f));
  const int y = b.tensor({1, 4, 4, 2});
  const auto options = fb::CreateConv2DOptions(b.fbb, fb::Padding_SAME, 1, 1).Union();
  b.op(test::kConv2D, {x, w}, {y}, fb::BuiltinOptions_Conv2DOptions, options);
  EXPECT_THAT(error_of(b.finish({x}, {y})), HasSubstr("does not fit input [1,4,4,3]"));
}

TEST(TfliteReader, RejectsTruncatedAndMissingFiles) {
  MONOBODY_MODEL_FILE_OR_SKIP(path, "pose_landmark_lite.tflite");
  std::vector<std::uint8_t> bytes = read_bytes(path);
  for (std::size_t keep : {bytes.size() - 1, bytes.size() / 2, std::size_t{100}}) {
    const std::vector<std::uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(keep));
    EXPECT_THAT(error_of(part), HasSubstr("invalid TFLite model")) << keep;
  }
  try {
    Model::load(path.parent_path() / "no_such_model.tflite");
    FAIL() << "loaded a missing file";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot open model file"));
  }
}

TEST(Model, RejectsABadThreadCount) {
  MONOBODY_MODEL_FILE_OR_SKIP(path, "pose_landmark_lite.tflite");
  EXPECT_THROW(Model::load(path, {Backend::Reference, 0}), Error);
}

}  // namespace
}  // namespace monobody::nn
