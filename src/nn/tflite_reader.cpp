// Reads a TFLite flatbuffer into a validated Graph. The flatbuffers Verifier guarantees that every table,
// vector and string lies inside the file; everything else the runtime relies on is checked here: indices,
// types, ranks, shapes against buffer sizes, operator options and versions, and the shapes each operator
// implies for its output. Anything unexpected is refused with a one-line message.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <monobody/error.hpp>
#include <optional>

#include "graph.hpp"
#include "tflite_generated.h"

namespace monobody::nn {

namespace fb = monobody::nn::tflite;

// TFLite files are little-endian and are read in place.
static_assert(std::endian::native == std::endian::little, "monobody's TFLite reader needs a little-endian host");

const char* op_type_name(OpType type) {
  switch (type) {
    case OpType::Conv2D: return "CONV_2D";
    case OpType::DepthwiseConv2D: return "DEPTHWISE_CONV_2D";
    case OpType::Add: return "ADD";
    case OpType::Pad: return "PAD";
    case OpType::Reshape: return "RESHAPE";
    case OpType::ResizeBilinear: return "RESIZE_BILINEAR";
    case OpType::DepthToSpace: return "DEPTH_TO_SPACE";
    case OpType::Concatenation: return "CONCATENATION";
    case OpType::MaxPool2D: return "MAX_POOL_2D";
    case OpType::Logistic: return "LOGISTIC";
  }
  return "?";
}

OutputRange output_range(Activation activation) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  switch (activation) {
    case Activation::None: return {-inf, inf};
    case Activation::Relu: return {0.0f, inf};
    case Activation::ReluMinus1To1: return {-1.0f, 1.0f};
    case Activation::Relu6: return {0.0f, 6.0f};
  }
  return {-inf, inf};
}

float half_to_float(std::uint16_t half) {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1fu;
  std::uint32_t mantissa = half & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {  // infinity or NaN: keep the payload
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal: rebias 15 -> 127
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // signed zero
    bits = sign;
  } else {  // subnormal half: normalise, every one is a normal float
    std::uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

namespace {

// 2^28 float32 elements (1 GiB) per tensor: far above any network this runtime is for, low enough that
// a corrupt shape cannot make us allocate absurd amounts or overflow size arithmetic.
constexpr std::size_t kMaxElements = std::size_t{1} << 28;
constexpr int kMaxRank = 6;

[[noreturn]] void fail(const std::string& message) { throw Error("invalid TFLite model: " + message); }

// BuiltinOperator numbers of the public schema for the operators we implement.
enum Builtin : std::int32_t {
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
  kPad = 34,
  kDensify = 124,
};
constexpr std::int32_t kCustom = 32;

struct BuiltinSpec {
  std::int32_t code;
  const char* name;
  // Highest operator version accepted. Later versions of these operators added features this runtime
  // does not implement (more types, larger ranks, grouped convolution); such files are refused rather
  // than misread. Float32 behaviour is identical across the accepted versions.
  int max_version;
};
constexpr BuiltinSpec kBuiltins[] = {
    {kAdd, "ADD", 4},
    {kConcatenation, "CONCATENATION", 3},
    {kConv2D, "CONV_2D", 4},
    {kDepthwiseConv2D, "DEPTHWISE_CONV_2D", 6},
    {kDepthToSpace, "DEPTH_TO_SPACE", 2},
    {kDequantize, "DEQUANTIZE", 4},
    {kLogistic, "LOGISTIC", 3},
    {kMaxPool2D, "MAX_POOL_2D", 3},
    {kReshape, "RESHAPE", 1},
    {kResizeBilinear, "RESIZE_BILINEAR", 4},
    {kPad, "PAD", 2},
    {kDensify, "DENSIFY", 1},
};

const BuiltinSpec* find_builtin(std::int32_t code) {
  for (const BuiltinSpec& spec : kBuiltins) {
    if (spec.code == code) return &spec;
  }
  return nullptr;
}

std::string shape_string(const std::vector<int>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ","));
}

const char* type_name(fb::TensorType type) {
  const char* name = fb::EnumNameTensorType(type);
  return name[0] != '\0' ? name : "unknown";
}

std::size_t type_size(fb::TensorType type) {
  switch (type) {
    case fb::TensorType_FLOAT32:
    case fb::TensorType_INT32: return 4;
    case fb::TensorType_FLOAT16: return 2;
    default: return 0;
  }
}

// What the reader knows about one tensor of the file while it walks the operators.
struct FileTensor {
  fb::TensorType type = fb::TensorType_FLOAT32;
  const std::uint8_t* bytes = nullptr;  // constant data in the file, if any
  std::size_t byte_size = 0;
  const fb::SparsityParameters* sparsity = nullptr;
  bool available = false;               // a graph input, a constant, or produced by an earlier operator
  bool folded = false;                  // a constant computed at load (DENSIFY / DEQUANTIZE output)
  std::vector<float> values;            // values of a folded constant that is not FLOAT32
};

class Reader {
 public:
  explicit Reader(const fb::Model& model) : model_(model) {}

  Graph read();

 private:
  const fb::Model& model_;
  const fb::SubGraph* subgraph_ = nullptr;
  Graph graph_;
  std::vector<FileTensor> file_;
  std::size_t op_index_ = 0;
  const char* op_name_ = "";

  [[noreturn]] void op_fail(const std::string& message) const {
    fail(fmt::format("operator {} ({}): {}", op_index_, op_name_, message));
  }
  std::string tensor_label(int t) const { return fmt::format("tensor {} '{}'", t, graph_.tensors[t].name); }

  void read_tensors();
  void read_operator(const fb::Operator& op);

  int tensor_index(std::int32_t index, bool optional = false) const;
  const Tensor& tensor(int t) const { return graph_.tensors[static_cast<std::size_t>(t)]; }
  int rank(int t) const { return static_cast<int>(tensor(t).shape.size()); }
  void require_rank(int t, int expected) const;
  int activation_input(std::int32_t index) const;
  int weight_input(std::int32_t index, bool optional = false);
  std::vector<std::int32_t> int_parameter(std::int32_t index) const;
  std::vector<float> float_values(int t) const;
  void fold(int output, std::vector<float> values);
  void expect_output_shape(int output, const std::vector<int>& shape) const;
  Activation activation(fb::ActivationFunctionType function) const;
  Window window(fb::Padding padding, int kernel_h, int kernel_w, int stride_h, int stride_w, int dilation_h,
                int dilation_w, int in_h, int in_w, int& out_h, int& out_w) const;
  std::vector<float> densify(int t);
};

int Reader::tensor_index(std::int32_t index, bool optional) const {
  if (optional && index == -1) return -1;
  if (index < 0 || static_cast<std::size_t>(index) >= graph_.tensors.size()) {
    op_fail(fmt::format("tensor index {} out of range (the subgraph has {})", index, graph_.tensors.size()));
  }
  return index;
}

void Reader::require_rank(int t, int expected) const {
  if (rank(t) != expected) {
    op_fail(fmt::format("{} has shape {}, expected rank {}", tensor_label(t), shape_string(tensor(t).shape),
                        expected));
  }
}

int Reader::activation_input(std::int32_t index) const {
  const int t = tensor_index(index);
  const FileTensor& ft = file_[static_cast<std::size_t>(t)];
  if (!ft.available) op_fail(fmt::format("{} is read before any operator writes it", tensor_label(t)));
  if (ft.type != fb::TensorType_FLOAT32) {
    op_fail(fmt::format("{} has type {}, expected FLOAT32", tensor_label(t), type_name(ft.type)));
  }
  if (ft.sparsity != nullptr) op_fail(fmt::format("{} is sparse, only DENSIFY reads sparse tensors", tensor_label(t)));
  return t;
}

int Reader::weight_input(std::int32_t index, bool optional) {
  const int t = tensor_index(index, optional);
  if (t < 0) return t;
  const int checked = activation_input(index);
  if (!tensor(checked).is_constant) op_fail(fmt::format("{} must be a constant (weights)", tensor_label(t)));
  return t;
}

std::vector<std::int32_t> Reader::int_parameter(std::int32_t index) const {
  const int t = tensor_index(index);
  const FileTensor& ft = file_[static_cast<std::size_t>(t)];
  if (ft.type != fb::TensorType_INT32 || ft.bytes == nullptr || ft.sparsity != nullptr) {
    op_fail(fmt::format("{} must be a constant INT32 tensor", tensor_label(t)));
  }
  std::vector<std::int32_t> values(tensor(t).elements);
  std::memcpy(values.data(), ft.bytes, values.size() * sizeof(std::int32_t));
  return values;
}

// The float values of a dense constant FLOAT32/FLOAT16 tensor, from the file or computed at load.
std::vector<float> Reader::float_values(int t) const {
  const FileTensor& ft = file_[static_cast<std::size_t>(t)];
  if (ft.folded) return ft.values;
  std::vector<float> values(tensor(t).elements);
  if (ft.type == fb::TensorType_FLOAT16) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::uint16_t h;
      std::memcpy(&h, ft.bytes + 2 * i, 2);
      values[i] = half_to_float(h);
    }
  } else {
    std::memcpy(values.data(), ft.bytes, values.size() * sizeof(float));
  }
  return values;
}

void Reader::fold(int output, std::vector<float> values) {
  FileTensor& ft = file_[static_cast<std::size_t>(output)];
  ft.folded = true;
  ft.available = true;
  Tensor& out = graph_.tensors[static_cast<std::size_t>(output)];
  if (ft.type == fb::TensorType_FLOAT32) {
    out.is_constant = true;
    out.data = std::move(values);
  } else {
    ft.values = std::move(values);  // an fp16 intermediate (DENSIFY before DEQUANTIZE)
  }
}

void Reader::expect_output_shape(int output, const std::vector<int>& shape) const {
  if (tensor(output).shape != shape) {
    op_fail(fmt::format("{} has shape {}, but the inputs and options give {}", tensor_label(output),
                        shape_string(tensor(output).shape), shape_string(shape)));
  }
}

Activation Reader::activation(fb::ActivationFunctionType function) const {
  switch (function) {
    case fb::ActivationFunctionType_NONE: return Activation::None;
    case fb::ActivationFunctionType_RELU: return Activation::Relu;
    case fb::ActivationFunctionType_RELU_N1_TO_1: return Activation::ReluMinus1To1;
    case fb::ActivationFunctionType_RELU6: return Activation::Relu6;
    default: op_fail(fmt::format("fused activation {} is not supported", static_cast<int>(function)));
  }
}

// Resolves TensorFlow's SAME/VALID padding to explicit amounts and computes the output size.
Window Reader::window(fb::Padding padding, int kernel_h, int kernel_w, int stride_h, int stride_w, int dilation_h,
                      int dilation_w, int in_h, int in_w, int& out_h, int& out_w) const {
  // Bounds keep every product below in int range; real networks use single-digit values.
  auto in_range = [](int v) { return v >= 1 && v <= 1024; };
  if (!in_range(kernel_h) || !in_range(kernel_w) || !in_range(stride_h) || !in_range(stride_w) ||
      !in_range(dilation_h) || !in_range(dilation_w)) {
    op_fail(fmt::format("window {}x{} stride {}x{} dilation {}x{} out of range", kernel_h, kernel_w, stride_h,
                        stride_w, dilation_h, dilation_w));
  }
  Window w;
  w.kernel_h = kernel_h;
  w.kernel_w = kernel_w;
  w.stride_h = stride_h;
  w.stride_w = stride_w;
  w.dilation_h = dilation_h;
  w.dilation_w = dilation_w;
  const int effective_h = (kernel_h - 1) * dilation_h + 1;
  const int effective_w = (kernel_w - 1) * dilation_w + 1;
  if (padding == fb::Padding_SAME) {
    out_h = (in_h + stride_h - 1) / stride_h;
    out_w = (in_w + stride_w - 1) / stride_w;
    const int total_h = std::max(0, (out_h - 1) * stride_h + effective_h - in_h);
    const int total_w = std::max(0, (out_w - 1) * stride_w + effective_w - in_w);
    w.pad_top = total_h / 2;
    w.pad_bottom = total_h - w.pad_top;
    w.pad_left = total_w / 2;
    w.pad_right = total_w - w.pad_left;
  } else if (padding == fb::Padding_VALID) {
    if (in_h < effective_h || in_w < effective_w) {
      op_fail(fmt::format("input {}x{} smaller than the {}x{} window", in_h, in_w, effective_h, effective_w));
    }
    out_h = (in_h - effective_h) / stride_h + 1;
    out_w = (in_w - effective_w) / stride_w + 1;
  } else {
    op_fail(fmt::format("padding type {} is not supported", static_cast<int>(padding)));
  }
  return w;
}

template <typename IndexVector>
std::optional<std::vector<std::int64_t>> index_values(const IndexVector* vector) {
  if (vector == nullptr || vector->values() == nullptr) return std::nullopt;
  return std::vector<std::int64_t>(vector->values()->begin(), vector->values()->end());
}

std::optional<std::vector<std::int64_t>> sparse_index_vector(fb::SparseIndexVector type, const void* value) {
  switch (type) {
    case fb::SparseIndexVector_Int32Vector: return index_values(static_cast<const fb::Int32Vector*>(value));
    case fb::SparseIndexVector_Uint16Vector: return index_values(static_cast<const fb::Uint16Vector*>(value));
    case fb::SparseIndexVector_Uint8Vector: return index_values(static_cast<const fb::Uint8Vector*>(value));
    default: return std::nullopt;
  }
}

// Expands a sparse constant (TFLite's compressed format without block sparsity: one metadata entry per
// dimension in traversal order, each dense or CSR) to a dense row-major array.
std::vector<float> Reader::densify(int t) {
  const FileTensor& ft = file_[static_cast<std::size_t>(t)];
  const fb::SparsityParameters& sp = *ft.sparsity;
  const std::vector<int>& shape = tensor(t).shape;
  const int r = rank(t);
  if (sp.block_map() != nullptr && sp.block_map()->size() != 0) op_fail("block-sparse tensors are not supported");
  if (sp.traversal_order() == nullptr || sp.dim_metadata() == nullptr ||
      sp.traversal_order()->size() != static_cast<unsigned>(r) || sp.dim_metadata()->size() != static_cast<unsigned>(r)) {
    op_fail(fmt::format("{} has sparsity metadata that does not match its rank {}", tensor_label(t), r));
  }
  std::vector<int> order(sp.traversal_order()->begin(), sp.traversal_order()->end());
  {
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (int d = 0; d < r; ++d) {
      if (sorted[static_cast<std::size_t>(d)] != d) op_fail("sparse traversal order is not a permutation");
    }
  }
  const std::size_t value_size = type_size(ft.type);
  const std::size_t stored = ft.byte_size / value_size;
  auto stored_value = [&](std::size_t i) {
    if (ft.type == fb::TensorType_FLOAT16) {
      std::uint16_t h;
      std::memcpy(&h, ft.bytes + 2 * i, 2);
      return half_to_float(h);
    }
    float f;
    std::memcpy(&f, ft.bytes + 4 * i, 4);
    return f;
  };

  struct Level {
    bool sparse;
    std::vector<std::int64_t> segments, indices;
  };
  std::vector<Level> levels(static_cast<std::size_t>(r));
  for (int l = 0; l < r; ++l) {
    const fb::DimensionMetadata* dm = sp.dim_metadata()->Get(static_cast<unsigned>(l));
    const int dim = shape[static_cast<std::size_t>(order[static_cast<std::size_t>(l)])];
    Level& level = levels[static_cast<std::size_t>(l)];
    if (dm == nullptr) op_fail("missing sparse dimension metadata");
    if (dm->format() == fb::DimensionType_DENSE) {
      level.sparse = false;
      if (dm->dense_size() != dim) op_fail(fmt::format("sparse dense_size {} != dimension {}", dm->dense_size(), dim));
    } else if (dm->format() == fb::DimensionType_SPARSE_CSR) {
      level.sparse = true;
      auto segments = sparse_index_vector(dm->array_segments_type(), dm->array_segments());
      auto indices = sparse_index_vector(dm->array_indices_type(), dm->array_indices());
      if (!segments || !indices) op_fail("sparse dimension without segments or indices");
      level.segments = std::move(*segments);
      level.indices = std::move(*indices);
    } else {
      op_fail("unknown sparse dimension format");
    }
  }

  // Walk the levels depth-first. `position` is the index into the next level's arrays (TFLite's scheme:
  // a dense level multiplies it by its size and adds the coordinate; a sparse level's segment entry for
  // `position` gives the range of stored coordinates). After the last level it indexes the stored values.
  std::vector<float> dense(tensor(t).elements, 0.0f);
  std::vector<std::size_t> strides(static_cast<std::size_t>(r), 1);
  for (int d = r - 2; d >= 0; --d) {
    strides[static_cast<std::size_t>(d)] = strides[static_cast<std::size_t>(d) + 1] *
                                           static_cast<std::size_t>(shape[static_cast<std::size_t>(d) + 1]);
  }
  std::vector<std::size_t> coordinate(static_cast<std::size_t>(r), 0);
  // Valid metadata visits each stored value once; corrupt segments could make the walk revisit ranges
  // without end, so the number of steps is capped.
  const std::size_t max_steps = static_cast<std::size_t>(r + 2) * dense.size() + 1024;
  std::size_t steps = 0;
  auto visit = [&](auto&& self, int level_index, std::size_t position) -> void {
    if (++steps > max_steps) op_fail("sparse metadata visits more entries than the tensor has");
    if (level_index == r) {
      if (position >= stored) op_fail(fmt::format("sparse value index {} beyond the {} stored", position, stored));
      std::size_t offset = 0;
      for (int d = 0; d < r; ++d) offset += coordinate[static_cast<std::size_t>(d)] * strides[static_cast<std::size_t>(d)];
      dense[offset] = stored_value(position);
      return;
    }
    const Level& level = levels[static_cast<std::size_t>(level_index)];
    const auto dim_index = static_cast<std::size_t>(order[static_cast<std::size_t>(level_index)]);
    const auto dim = static_cast<std::size_t>(shape[dim_index]);
    if (!level.sparse) {
      for (std::size_t i = 0; i < dim; ++i) {
        coordinate[dim_index] = i;
        self(self, level_index + 1, position * dim + i);
      }
      return;
    }
    if (position + 1 >= level.segments.size()) op_fail("sparse segment index out of range");
    const std::int64_t begin = level.segments[position];
    const std::int64_t end = level.segments[position + 1];
    if (begin < 0 || end < begin || static_cast<std::size_t>(end) > level.indices.size()) {
      op_fail("sparse segments are not monotonic or exceed the indices");
    }
    for (std::int64_t k = begin; k < end; ++k) {
      const std::int64_t c = level.indices[static_cast<std::size_t>(k)];
      if (c < 0 || static_cast<std::size_t>(c) >= dim) op_fail(fmt::format("sparse index {} outside dimension {}", c, dim));
      coordinate[dim_index] = static_cast<std::size_t>(c);
      self(self, level_index + 1, static_cast<std::size_t>(k));
    }
  };
  visit(visit, 0, 0);
  return dense;
}

void Reader::read_tensors() {
  const auto* tensors = subgraph_->tensors();
  const auto* buffers = model_.buffers();
  if (tensors == nullptr || tensors->size() == 0) fail("the subgraph has no tensors");
  if (tensors->size() > (1u << 20)) fail(fmt::format("{} tensors is more than supported", tensors->size()));
  const std::size_t buffer_count = buffers == nullptr ? 0 : buffers->size();
  graph_.tensors.resize(tensors->size());
  file_.resize(tensors->size());
  for (unsigned i = 0; i < tensors->size(); ++i) {
    const fb::Tensor* t = tensors->Get(i);
    Tensor& out = graph_.tensors[i];
    FileTensor& ft = file_[i];
    if (t == nullptr) fail(fmt::format("tensor {} is missing", i));
    out.name = t->name() != nullptr ? t->name()->str() : std::string();
    const auto label = [&] { return fmt::format("tensor {} '{}'", i, out.name); };
    if (t->shape() != nullptr) out.shape.assign(t->shape()->begin(), t->shape()->end());
    if (static_cast<int>(out.shape.size()) > kMaxRank) fail(fmt::format("{} has rank {} > {}", label(), out.shape.size(), kMaxRank));
    std::size_t elements = 1;
    for (int d : out.shape) {
      if (d < 1) fail(fmt::format("{} has shape {} with a dimension < 1", label(), shape_string(out.shape)));
      elements *= static_cast<std::size_t>(d);
      if (elements > kMaxElements) fail(fmt::format("{} has shape {}, too large", label(), shape_string(out.shape)));
    }
    out.elements = elements;
    ft.type = t->type();
    ft.sparsity = t->sparsity();
    if (t->is_variable()) fail(fmt::format("{} is a variable tensor (stateful models are not supported)", label()));
    if (t->buffer() >= buffer_count) {
      fail(fmt::format("{} refers to buffer {}, but the model has {}", label(), t->buffer(), buffer_count));
    }
    const fb::Buffer* buffer = buffers->Get(t->buffer());
    if (buffer == nullptr) fail(fmt::format("buffer {} is missing", t->buffer()));
    if (buffer->offset() != 0 || buffer->size() != 0) {
      fail(fmt::format("{} stores its data outside the flatbuffer, which is not supported", label()));
    }
    if (buffer->data() == nullptr || buffer->data()->size() == 0) continue;
    ft.bytes = buffer->data()->data();
    ft.byte_size = buffer->data()->size();
    ft.available = true;
    const std::size_t size = type_size(ft.type);
    if (size == 0) fail(fmt::format("{} is a constant of unsupported type {}", label(), type_name(ft.type)));
    if (ft.sparsity != nullptr) {
      if (ft.byte_size % size != 0) fail(fmt::format("{} has {} bytes of sparse data, not whole values", label(), ft.byte_size));
      continue;  // the values are the stored non-zeros; densify() checks them against the metadata
    }
    if (ft.byte_size != elements * size) {
      fail(fmt::format("{} of shape {} and type {} needs {} bytes, its buffer has {}", label(),
                       shape_string(out.shape), type_name(ft.type), elements * size, ft.byte_size));
    }
    if (ft.type == fb::TensorType_FLOAT32) {
      out.is_constant = true;
      out.data = float_values(static_cast<int>(i));
    }
  }
}

void Reader::read_operator(const fb::Operator& op) {
  const auto* codes = model_.operator_codes();
  if (codes == nullptr || op.opcode_index() >= codes->size()) {
    fail(fmt::format("operator {} has operator code {} out of range", op_index_, op.opcode_index()));
  }
  const fb::OperatorCode* code = codes->Get(op.opcode_index());
  if (code == nullptr) fail(fmt::format("operator code {} is missing", op.opcode_index()));
  // Files written before builtin_code existed only carry the narrow field; newer ones carry both.
  const std::int32_t builtin = std::max<std::int32_t>(code->builtin_code(), code->deprecated_builtin_code());
  if (builtin == kCustom) {
    fail(fmt::format("operator {} is the custom operator '{}', which is not supported", op_index_,
                     code->custom_code() != nullptr ? code->custom_code()->str() : ""));
  }
  const BuiltinSpec* spec = find_builtin(builtin);
  if (spec == nullptr) fail(fmt::format("operator {} has unsupported builtin operator code {}", op_index_, builtin));
  op_name_ = spec->name;
  if (code->version() < 1 || code->version() > spec->max_version) {
    op_fail(fmt::format("version {} is not supported (1 to {})", code->version(), spec->max_version));
  }
  if (op.inputs() == nullptr || op.outputs() == nullptr) op_fail("missing inputs or outputs");
  const std::vector<std::int32_t> in(op.inputs()->begin(), op.inputs()->end());
  if (op.outputs()->size() != 1) op_fail(fmt::format("{} outputs, expected 1", op.outputs()->size()));
  const int output = tensor_index(op.outputs()->Get(0));
  FileTensor& out_file = file_[static_cast<std::size_t>(output)];
  if (out_file.available) op_fail(fmt::format("output {} is already defined", tensor_label(output)));
  if (out_file.sparsity != nullptr) op_fail(fmt::format("output {} is sparse", tensor_label(output)));
  auto require_inputs = [&](std::size_t least, std::size_t most) {
    if (in.size() < least || in.size() > most) {
      op_fail(fmt::format("{} inputs, expected {}", in.size(),
                          least == most ? fmt::format("{}", least) : fmt::format("{} to {}", least, most)));
    }
  };
  auto require_options = [&](const void* options) {
    if (options == nullptr) op_fail("missing or mismatched builtin options");
  };

  // Weight preparation: evaluated now, at load.
  if (builtin == kDequantize || builtin == kDensify) {
    require_inputs(1, 1);
    const int input = tensor_index(in[0]);
    const FileTensor& src = file_[static_cast<std::size_t>(input)];
    if (!src.available || !(src.folded || src.bytes != nullptr)) {
      op_fail(fmt::format("{} is not a constant; only weights may be dequantized or densified", tensor_label(input)));
    }
    if (tensor(input).shape != tensor(output).shape) {
      op_fail(fmt::format("{} has shape {}, its input {}", tensor_label(output), shape_string(tensor(output).shape),
                          shape_string(tensor(input).shape)));
    }
    if (builtin == kDensify) {
      if (src.sparsity == nullptr) op_fail(fmt::format("{} is not sparse", tensor_label(input)));
      if (src.type != out_file.type || (src.type != fb::TensorType_FLOAT16 && src.type != fb::TensorType_FLOAT32)) {
        op_fail(fmt::format("densifies {} into {}, expected FLOAT16 or FLOAT32 to the same type", type_name(src.type),
                            type_name(out_file.type)));
      }
      fold(output, densify(input));
    } else {
      if (src.sparsity != nullptr) op_fail(fmt::format("{} is sparse and needs DENSIFY first", tensor_label(input)));
      if (src.type != fb::TensorType_FLOAT16 || out_file.type != fb::TensorType_FLOAT32) {
        op_fail(fmt::format("dequantizes {} to {}, only FLOAT16 to FLOAT32 is supported", type_name(src.type),
                            type_name(out_file.type)));
      }
      fold(output, float_values(input));
    }
    return;
  }

  Operation operation;
  operation.output = output;
  if (out_file.type != fb::TensorType_FLOAT32) {
    op_fail(fmt::format("output {} has type {}, expected FLOAT32", tensor_label(output), type_name(out_file.type)));
  }
  const std::vector<int>& out_shape = tensor(output).shape;
  switch (builtin) {
    case kConv2D:
    case kDepthwiseConv2D: {
      const bool depthwise = builtin == kDepthwiseConv2D;
      operation.type = depthwise ? OpType::DepthwiseConv2D : OpType::Conv2D;
      require_inputs(2, 3);
      const int x = activation_input(in[0]);
      const int filter = weight_input(in[1]);
      const int bias = in.size() == 3 ? weight_input(in[2], true) : -1;
      require_rank(x, 4);
      require_rank(filter, 4);
      const auto& xs = tensor(x).shape;
      const auto& fs = tensor(filter).shape;
      fb::Padding padding;
      int stride_w, stride_h, dilation_w, dilation_h;
      fb::ActivationFunctionType act;
      int out_channels;
      if (depthwise) {
        const auto* o = op.builtin_options_as_DepthwiseConv2DOptions();
        require_options(o);
        padding = o->padding();
        stride_w = o->stride_w();
        stride_h = o->stride_h();
        dilation_w = o->dilation_w_factor();
        dilation_h = o->dilation_h_factor();
        act = o->fused_activation_function();
        if (fs[0] != 1 || fs[3] % xs[3] != 0) {
          op_fail(fmt::format("depthwise filter {} does not fit input {}", shape_string(fs), shape_string(xs)));
        }
        operation.depth_multiplier = fs[3] / xs[3];
        if (o->depth_multiplier() != 0 && o->depth_multiplier() != operation.depth_multiplier) {
          op_fail(fmt::format("depth_multiplier {} disagrees with filter {}", o->depth_multiplier(), shape_string(fs)));
        }
        out_channels = fs[3];
      } else {
        const auto* o = op.builtin_options_as_Conv2DOptions();
        require_options(o);
        padding = o->padding();
        stride_w = o->stride_w();
        stride_h = o->stride_h();
        dilation_w = o->dilation_w_factor();
        dilation_h = o->dilation_h_factor();
        act = o->fused_activation_function();
        if (fs[3] != xs[3]) {
          op_fail(fmt::format("filter {} does not fit input {} (grouped convolution is not supported)",
                              shape_string(fs), shape_string(xs)));
        }
        out_channels = fs[0];
      }
      if (bias >= 0 && tensor(bias).shape != std::vector<int>{out_channels}) {
        op_fail(fmt::format("bias {} does not match {} output channels", shape_string(tensor(bias).shape), out_channels));
      }
      int out_h, out_w;
      operation.window = window(padding, fs[1], fs[2], stride_h, stride_w, dilation_h, dilation_w, xs[1], xs[2], out_h, out_w);
      operation.activation = activation(act);
      operation.inputs = {x, filter, bias};
      expect_output_shape(output, {xs[0], out_h, out_w, out_channels});
      break;
    }
    case kMaxPool2D: {
      operation.type = OpType::MaxPool2D;
      require_inputs(1, 1);
      const int x = activation_input(in[0]);
      require_rank(x, 4);
      const auto* o = op.builtin_options_as_Pool2DOptions();
      require_options(o);
      const auto& xs = tensor(x).shape;
      int out_h, out_w;
      operation.window = window(o->padding(), o->filter_height(), o->filter_width(), o->stride_h(), o->stride_w(), 1, 1,
                                xs[1], xs[2], out_h, out_w);
      operation.activation = activation(o->fused_activation_function());
      operation.inputs = {x};
      expect_output_shape(output, {xs[0], out_h, out_w, xs[3]});
      break;
    }
    case kAdd: {
      operation.type = OpType::Add;
      require_inputs(2, 2);
      const int a = activation_input(in[0]);
      const int b = activation_input(in[1]);
      if (tensor(a).shape != tensor(b).shape) {
        op_fail(fmt::format("inputs of shapes {} and {} (broadcasting is not supported)", shape_string(tensor(a).shape),
                            shape_string(tensor(b).shape)));
      }
      const auto* o = op.builtin_options_as_AddOptions();
      operation.activation = o != nullptr ? activation(o->fused_activation_function()) : Activation::None;
      operation.inputs = {a, b};
      expect_output_shape(output, tensor(a).shape);
      break;
    }
    case kLogistic: {
      operation.type = OpType::Logistic;
      require_inputs(1, 1);
      const int x = activation_input(in[0]);
      operation.inputs = {x};
      expect_output_shape(output, tensor(x).shape);
      break;
    }
    case kPad: {
      operation.type = OpType::Pad;
      require_inputs(2, 2);
      const int x = activation_input(in[0]);
      const std::vector<std::int32_t> paddings = int_parameter(in[1]);
      const int r = rank(x);
      const std::vector<int>& pad_shape = tensor(tensor_index(in[1])).shape;
      if (pad_shape != std::vector<int>{r, 2}) {
        op_fail(fmt::format("paddings of shape {} for an input of rank {}", shape_string(pad_shape), r));
      }
      std::vector<int> shape = tensor(x).shape;
      for (int d = 0; d < r; ++d) {
        const int before = paddings[static_cast<std::size_t>(2 * d)];
        const int after = paddings[static_cast<std::size_t>(2 * d + 1)];
        if (before < 0 || after < 0 || before > 4096 || after > 4096) {
          op_fail(fmt::format("padding {},{} of dimension {} out of range", before, after, d));
        }
        operation.pad_before.push_back(before);
        operation.pad_after.push_back(after);
        shape[static_cast<std::size_t>(d)] += before + after;
      }
      operation.inputs = {x};
      expect_output_shape(output, shape);
      break;
    }
    case kReshape: {
      operation.type = OpType::Reshape;
      require_inputs(1, 2);
      const int x = activation_input(in[0]);
      if (tensor(x).elements != tensor(output).elements) {
        op_fail(fmt::format("reshapes {} into {}, which has a different element count", shape_string(tensor(x).shape),
                            shape_string(out_shape)));
      }
      if (in.size() == 2) {  // the requested shape, where -1 means "whatever is left"
        const std::vector<std::int32_t> requested = int_parameter(in[1]);
        bool matches = requested.size() == out_shape.size();
        for (std::size_t d = 0; matches && d < requested.size(); ++d) {
          matches = requested[d] == -1 || requested[d] == out_shape[d];
        }
        if (!matches) op_fail(fmt::format("requested shape {} disagrees with output {}",
                                          shape_string(std::vector<int>(requested.begin(), requested.end())),
                                          shape_string(out_shape)));
      }
      operation.inputs = {x};
      break;
    }
    case kResizeBilinear: {
      operation.type = OpType::ResizeBilinear;
      require_inputs(2, 2);
      const int x = activation_input(in[0]);
      require_rank(x, 4);
      const std::vector<std::int32_t> size = int_parameter(in[1]);
      if (size.size() != 2 || size[0] < 1 || size[1] < 1) op_fail("the size input must hold 2 positive values");
      const auto* o = op.builtin_options_as_ResizeBilinearOptions();
      require_options(o);
      operation.align_corners = o->align_corners();
      operation.half_pixel_centers = o->half_pixel_centers();
      if (operation.align_corners && operation.half_pixel_centers) {
        op_fail("align_corners and half_pixel_centers are mutually exclusive");
      }
      const auto& xs = tensor(x).shape;
      operation.inputs = {x};
      expect_output_shape(output, {xs[0], size[0], size[1], xs[3]});
      break;
    }
    case kDepthToSpace: {
      operation.type = OpType::DepthToSpace;
      require_inputs(1, 1);
      const int x = activation_input(in[0]);
      require_rank(x, 4);
      const auto* o = op.builtin_options_as_DepthToSpaceOptions();
      require_options(o);
      const int b = o->block_size();
      const auto& xs = tensor(x).shape;
      if (b < 2 || b > 64 || xs[3] % (b * b) != 0) {
        op_fail(fmt::format("block size {} does not fit input {}", b, shape_string(xs)));
      }
      if (std::int64_t{xs[1]} * b * xs[2] * b > static_cast<std::int64_t>(kMaxElements)) op_fail("output too large");
      operation.block_size = b;
      operation.inputs = {x};
      expect_output_shape(output, {xs[0], xs[1] * b, xs[2] * b, xs[3] / (b * b)});
      break;
    }
    case kConcatenation: {
      operation.type = OpType::Concatenation;
      require_inputs(1, 64);
      const auto* o = op.builtin_options_as_ConcatenationOptions();
      require_options(o);
      if (o->fused_activation_function() != fb::ActivationFunctionType_NONE) {
        op_fail("a fused activation on CONCATENATION is not supported");
      }
      const int first = activation_input(in[0]);
      const int r = rank(first);
      const int axis = o->axis() < 0 ? o->axis() + r : o->axis();
      if (axis < 0 || axis >= r) op_fail(fmt::format("axis {} out of range for rank {}", o->axis(), r));
      std::vector<int> shape = tensor(first).shape;
      shape[static_cast<std::size_t>(axis)] = 0;
      for (std::int32_t index : in) {
        const int x = activation_input(index);
        std::vector<int> xs = tensor(x).shape;
        if (static_cast<int>(xs.size()) != r) op_fail(fmt::format("inputs of different ranks"));
        if (std::int64_t{shape[static_cast<std::size_t>(axis)]} + xs[static_cast<std::size_t>(axis)] >
            static_cast<std::int64_t>(kMaxElements)) {
          op_fail("output too large");
        }
        shape[static_cast<std::size_t>(axis)] += xs[static_cast<std::size_t>(axis)];
        xs[static_cast<std::size_t>(axis)] = 0;
        for (int d = 0; d < r; ++d) {
          if (d != axis && xs[static_cast<std::size_t>(d)] != shape[static_cast<std::size_t>(d)]) {
            op_fail(fmt::format("{} does not match the other inputs outside axis {}", tensor_label(x), axis));
          }
        }
        operation.inputs.push_back(x);
      }
      operation.axis = axis;
      expect_output_shape(output, shape);
      break;
    }
    default: op_fail("internal error: an operator kind the reader accepted has no shape rule");
  }
  out_file.available = true;
  graph_.operations.push_back(std::move(operation));
}

Graph Reader::read() {
  if (model_.version() != 3) fail(fmt::format("schema version {} is not supported (expected 3)", model_.version()));
  if (model_.subgraphs() == nullptr || model_.subgraphs()->size() != 1) {
    fail(fmt::format("{} subgraphs, expected exactly 1", model_.subgraphs() == nullptr ? 0 : model_.subgraphs()->size()));
  }
  subgraph_ = model_.subgraphs()->Get(0);
  if (subgraph_ == nullptr) fail("the subgraph is missing");
  read_tensors();

  if (subgraph_->inputs() == nullptr || subgraph_->inputs()->size() == 0) fail("the subgraph has no inputs");
  if (subgraph_->outputs() == nullptr || subgraph_->outputs()->size() == 0) fail("the subgraph has no outputs");
  for (std::int32_t index : *subgraph_->inputs()) {
    if (index < 0 || static_cast<std::size_t>(index) >= graph_.tensors.size()) fail(fmt::format("input tensor index {} out of range", index));
    FileTensor& ft = file_[static_cast<std::size_t>(index)];
    if (ft.available) fail(fmt::format("input tensor {} is a constant or listed twice", index));
    if (ft.type != fb::TensorType_FLOAT32 || ft.sparsity != nullptr) {
      fail(fmt::format("input tensor {} has type {}, expected FLOAT32", index, type_name(ft.type)));
    }
    ft.available = true;
    graph_.inputs.push_back(index);
  }

  const auto* operators = subgraph_->operators();
  if (operators == nullptr || operators->size() == 0) fail("the subgraph has no operators");
  for (op_index_ = 0; op_index_ < operators->size(); ++op_index_) {
    const fb::Operator* op = operators->Get(static_cast<unsigned>(op_index_));
    if (op == nullptr) fail(fmt::format("operator {} is missing", op_index_));
    op_name_ = "";
    read_operator(*op);
  }

  for (std::int32_t index : *subgraph_->outputs()) {
    if (index < 0 || static_cast<std::size_t>(index) >= graph_.tensors.size()) fail(fmt::format("output tensor index {} out of range", index));
    const auto& ops = graph_.operations;
    const bool computed = std::any_of(ops.begin(), ops.end(), [&](const Operation& o) { return o.output == index; });
    if (!computed) fail(fmt::format("output tensor {} '{}' is not computed by any operator", index, tensor(index).name));
    if (std::find(graph_.outputs.begin(), graph_.outputs.end(), index) != graph_.outputs.end()) {
      fail(fmt::format("output tensor {} is listed twice", index));
    }
    graph_.outputs.push_back(index);
  }

  // Keep only the constants the compute operators read (drops the fp16 and sparse intermediates).
  std::vector<bool> used(graph_.tensors.size(), false);
  for (const Operation& o : graph_.operations) {
    for (int t : o.inputs) {
      if (t >= 0) used[static_cast<std::size_t>(t)] = true;
    }
  }
  for (std::size_t t = 0; t < graph_.tensors.size(); ++t) {
    if (!used[t] && graph_.tensors[t].is_constant) {
      graph_.tensors[t].data = {};
      graph_.tensors[t].is_constant = false;
    }
  }
  return std::move(graph_);
}

}  // namespace

Graph read_tflite(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 8) fail(fmt::format("{} bytes is too short for a flatbuffer", bytes.size()));
  if (bytes.size() >= std::size_t{FLATBUFFERS_MAX_BUFFER_SIZE}) fail("file larger than 2 GiB");
  // flatbuffers reads scalars in place, which needs the buffer's start aligned like the largest scalar.
  std::vector<std::uint64_t> aligned;
  const std::uint8_t* data = bytes.data();
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) != 0) {
    aligned.resize((bytes.size() + 7) / 8);
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    data = reinterpret_cast<const std::uint8_t*>(aligned.data());
  }
  if (!fb::ModelBufferHasIdentifier(data)) fail("not a TFLite flatbuffer (no TFL3 file identifier)");
  flatbuffers::Verifier verifier(data, bytes.size(), /*max_depth=*/64, /*max_tables=*/10'000'000);
  if (!fb::VerifyModelBuffer(verifier)) fail("the flatbuffer is corrupt or truncated (verification failed)");
  return Reader(*fb::GetModel(data)).read();
}

Graph read_tflite_file(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  std::ifstream file(path, std::ios::binary);
  if (error || !file) throw Error(fmt::format("cannot open model file '{}'", path.string()));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (!file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    throw Error(fmt::format("cannot read model file '{}'", path.string()));
  }
  try {
    return read_tflite(bytes);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", path.string(), e.what()));
  }
}

}  // namespace monobody::nn
