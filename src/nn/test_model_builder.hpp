// Tests only: writes small TFLite flatbuffers in memory with the code flatc generates from our schema,
// so that tests can exercise one operator, one option or one defect at a time.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tflite_generated.h"

namespace monobody::nn::test {

namespace fb = monobody::nn::tflite;

// Builtin operator numbers of the public schema used by the tests.
enum : std::int32_t {
  kAdd = 0,
  kConcatenation = 2,
  kConv2D = 3,
  kDepthwiseConv2D = 4,
  kDepthToSpace = 5,
  kDequantize = 6,
  kLogistic = 14,
  kMaxPool2D = 17,
  kReshape = 22,
  kResizeBilinear = 23,
  kSoftmax = 25,
  kCustom = 32,
  kPad = 34,
  kDensify = 124,
};

class ModelBuilder {
 public:
  ModelBuilder() { buffers_.push_back(fb::CreateBuffer(fbb)); }  // buffer 0: the empty sentinel

  // An activation tensor (no data).
  int tensor(const std::vector<int>& shape, fb::TensorType type = fb::TensorType_FLOAT32) {
    return add_tensor(shape, type, 0, {});
  }
  // A constant with its raw little-endian bytes.
  int constant_bytes(const std::vector<int>& shape, fb::TensorType type, const std::vector<std::uint8_t>& bytes,
                     flatbuffers::Offset<fb::SparsityParameters> sparsity = {}) {
    const auto data = fbb.CreateVector(bytes);
    buffers_.push_back(fb::CreateBuffer(fbb, data));
    return add_tensor(shape, type, static_cast<std::uint32_t>(buffers_.size() - 1), sparsity);
  }
  template <typename T>
  int constant(const std::vector<int>& shape, const std::vector<T>& values, fb::TensorType type) {
    std::vector<std::uint8_t> bytes(values.size() * sizeof(T));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return constant_bytes(shape, type, bytes);
  }
  int floats(const std::vector<int>& shape, const std::vector<float>& values) {
    return constant(shape, values, fb::TensorType_FLOAT32);
  }
  int ints(const std::vector<int>& shape, const std::vector<std::int32_t>& values) {
    return constant(shape, values, fb::TensorType_INT32);
  }

  void op(std::int32_t builtin, const std::vector<int>& inputs, const std::vector<int>& outputs,
          fb::BuiltinOptions options_type = fb::BuiltinOptions_NONE, flatbuffers::Offset<void> options = 0,
          int version = 1, const std::string& custom_code = "") {
    const auto key = std::make_pair(builtin, version);
    auto it = codes_.find(key);
    if (it == codes_.end()) {
      const auto custom = custom_code.empty() ? 0 : fbb.CreateString(custom_code);
      code_offsets_.push_back(fb::CreateOperatorCode(fbb, static_cast<std::int8_t>(builtin < 127 ? builtin : 127),
                                                     custom, version, builtin));
      it = codes_.emplace(key, static_cast<std::uint32_t>(code_offsets_.size() - 1)).first;
    }
    const auto in = fbb.CreateVector(inputs);
    const auto out = fbb.CreateVector(outputs);
    operators_.push_back(fb::CreateOperator(fbb, it->second, in, out, options_type, options));
  }

  std::vector<std::uint8_t> finish(const std::vector<int>& inputs, const std::vector<int>& outputs,
                                   std::uint32_t version = 3) {
    const auto subgraph = fb::CreateSubGraph(fbb, fbb.CreateVector(tensors_), fbb.CreateVector(inputs),
                                             fbb.CreateVector(outputs), fbb.CreateVector(operators_));
    const std::vector<flatbuffers::Offset<fb::SubGraph>> subgraphs{subgraph};
    const auto model = fb::CreateModel(fbb, version, fbb.CreateVector(code_offsets_), fbb.CreateVector(subgraphs), 0,
                                       fbb.CreateVector(buffers_));
    fb::FinishModelBuffer(fbb, model);
    return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
  }

  flatbuffers::FlatBufferBuilder fbb;

 private:
  int add_tensor(const std::vector<int>& shape, fb::TensorType type, std::uint32_t buffer,
                 flatbuffers::Offset<fb::SparsityParameters> sparsity) {
    const auto name = fbb.CreateString("t" + std::to_string(tensors_.size()));
    const auto dims = fbb.CreateVector(shape);
    tensors_.push_back(fb::CreateTensor(fbb, dims, type, buffer, name, false, sparsity));
    return static_cast<int>(tensors_.size() - 1);
  }

  std::vector<flatbuffers::Offset<fb::Buffer>> buffers_;
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors_;
  std::vector<flatbuffers::Offset<fb::Operator>> operators_;
  std::vector<flatbuffers::Offset<fb::OperatorCode>> code_offsets_;
  std::map<std::pair<std::int32_t, int>, std::uint32_t> codes_;
};

}  // namespace monobody::nn::test
