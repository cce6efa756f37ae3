#include "fuzz_seeds.hpp"

#include "test_model_builder.hpp"

namespace monobody::nn {

namespace {

using test::ModelBuilder;
namespace fb = test::fb;

std::vector<float> ramp(std::size_t count) {
  std::vector<float> v(count);
  for (std::size_t i = 0; i < count; ++i) v[i] = static_cast<float>(static_cast<int>(i % 7) - 3) * 0.25f;
  return v;
}

// PAD -> CONV_2D (stride 2, RELU6) -> DEPTHWISE_CONV_2D -> ADD
std::vector<std::uint8_t> convolutions() {
  ModelBuilder b;
  const int x = b.tensor({1, 8, 8, 3});
  const int padded = b.tensor({1, 9, 9, 3});
  b.op(test::kPad, {x, b.ints({4, 2}, {0, 0, 0, 1, 0, 1, 0, 0})}, {padded}, fb::BuiltinOptions_PadOptions,
       fb::CreatePadOptions(b.fbb).Union());
  const int conv = b.tensor({1, 4, 4, 4});
  b.op(test::kConv2D, {padded, b.floats({4, 3, 3, 3}, ramp(108)), b.floats({4}, ramp(4))}, {conv},
       fb::BuiltinOptions_Conv2DOptions,
       fb::CreateConv2DOptions(b.fbb, fb::Padding_VALID, 2, 2, fb::ActivationFunctionType_RELU6).Union());
  const int depthwise = b.tensor({1, 4, 4, 4});
  b.op(test::kDepthwiseConv2D, {conv, b.floats({1, 3, 3, 4}, ramp(36)), b.floats({4}, ramp(4))}, {depthwise},
       fb::BuiltinOptions_DepthwiseConv2DOptions,
       fb::CreateDepthwiseConv2DOptions(b.fbb, fb::Padding_SAME, 1, 1, 1).Union());
  const int sum = b.tensor({1, 4, 4, 4});
  b.op(test::kAdd, {conv, depthwise}, {sum}, fb::BuiltinOptions_AddOptions, fb::CreateAddOptions(b.fbb).Union());
  return b.finish({x}, {sum});
}

// MAX_POOL_2D -> RESIZE_BILINEAR (half-pixel) -> DEPTH_TO_SPACE
std::vector<std::uint8_t> resampling() {
  ModelBuilder b;
  const int x = b.tensor({1, 6, 6, 8});
  const int pooled = b.tensor({1, 3, 3, 8});
  b.op(test::kMaxPool2D, {x}, {pooled}, fb::BuiltinOptions_Pool2DOptions,
       fb::CreatePool2DOptions(b.fbb, fb::Padding_VALID, 2, 2, 2, 2).Union());
  const int resized = b.tensor({1, 6, 6, 8});
  b.op(test::kResizeBilinear, {pooled, b.ints({2}, {6, 6})}, {resized}, fb::BuiltinOptions_ResizeBilinearOptions,
       fb::CreateResizeBilinearOptions(b.fbb, false, true).Union(), 3);
  const int spread = b.tensor({1, 12, 12, 2});
  b.op(test::kDepthToSpace, {resized}, {spread}, fb::BuiltinOptions_DepthToSpaceOptions,
       fb::CreateDepthToSpaceOptions(b.fbb, 2).Union());
  return b.finish({x}, {spread});
}

// CONCATENATION -> RESHAPE -> LOGISTIC, two inputs and two outputs
std::vector<std::uint8_t> heads() {
  ModelBuilder b;
  const int a = b.tensor({1, 4, 3});
  const int c = b.tensor({1, 2, 3});
  const int joined = b.tensor({1, 6, 3});
  b.op(test::kConcatenation, {a, c}, {joined}, fb::BuiltinOptions_ConcatenationOptions,
       fb::CreateConcatenationOptions(b.fbb, 1).Union());
  const int flat = b.tensor({1, 18});
  b.op(test::kReshape, {joined, b.ints({2}, {1, 18})}, {flat});
  const int probability = b.tensor({1, 18});
  b.op(test::kLogistic, {flat}, {probability});
  return b.finish({a, c}, {probability, joined});
}

// Sparse fp16 weights: DENSIFY -> DEQUANTIZE -> CONV_2D
std::vector<std::uint8_t> sparse_weights() {
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
  const std::vector<std::uint8_t> halves{0x00, 0x3e, 0x00, 0xc0, 0x00, 0x34};  // 1.5, -2, 0.25 little-endian
  const int sparse = b.constant_bytes({2, 1, 1, 3}, fb::TensorType_FLOAT16, halves, sparsity);
  const int dense16 = b.tensor({2, 1, 1, 3}, fb::TensorType_FLOAT16);
  const int filter = b.tensor({2, 1, 1, 3});
  const int bias16 = b.constant<std::uint16_t>({2}, {0x3c00, 0xbc00}, fb::TensorType_FLOAT16);
  const int bias = b.tensor({2});
  const int x = b.tensor({1, 2, 2, 3});
  const int y = b.tensor({1, 2, 2, 2});
  b.op(test::kDensify, {sparse}, {dense16});
  b.op(test::kDequantize, {dense16}, {filter}, fb::BuiltinOptions_NONE, 0, 3);
  b.op(test::kDequantize, {bias16}, {bias}, fb::BuiltinOptions_NONE, 0, 3);
  b.op(test::kConv2D, {x, filter, bias}, {y}, fb::BuiltinOptions_Conv2DOptions,
       fb::CreateConv2DOptions(fbb, fb::Padding_SAME, 1, 1).Union());
  return b.finish({x}, {y});
}

}  // namespace

std::vector<std::vector<std::uint8_t>> fuzz_seed_models() {
  return {convolutions(), resampling(), heads(), sparse_weights()};
}

}  // namespace monobody::nn
