// The runtime's own description of a network, independent of the file format and of the backend: what
// the TFLite reader produces after validating a file, and what both backends execute.
//
// Weight-preparation operators of the file (DEQUANTIZE of fp16 constants, DENSIFY of sparse constants)
// are evaluated at load, so the graph holds only float32 constants and the compute operators below.
// Every shape has been checked: each operation's output shape is the one its inputs and options imply,
// so kernels may index without further checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace monobody::nn {

enum class OpType {
  Conv2D,           // inputs: x [N,H,W,Ci], filter [Co,KH,KW,Ci], bias [Co] or -1
  DepthwiseConv2D,  // inputs: x [N,H,W,C], filter [1,KH,KW,C*M], bias [C*M] or -1
  Add,              // inputs: a, b of the same shape
  Pad,              // inputs: x; constant zero padding per dimension
  Reshape,          // inputs: x; same elements, output shape
  ResizeBilinear,   // inputs: x [N,H,W,C]; output [N,OH,OW,C]
  DepthToSpace,     // inputs: x [N,H,W,C*b*b]; output [N,H*b,W*b,C]
  Concatenation,    // inputs: x0..xk, equal except along `axis`
  MaxPool2D,        // inputs: x [N,H,W,C]
  Logistic,         // inputs: x; elementwise sigmoid
};

const char* op_type_name(OpType type);

enum class Activation { None, Relu, ReluMinus1To1, Relu6 };

// The clamp an activation applies to an operator's result (infinite bounds when there is none).
struct OutputRange {
  float min;
  float max;
};
OutputRange output_range(Activation activation);

// Sliding window of a convolution or pooling, with the padding already resolved to explicit amounts.
struct Window {
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

struct Tensor {
  std::string name;
  std::vector<int> shape;
  std::size_t elements = 0;
  bool is_constant = false;    // weights: `data` holds the values
  std::vector<float> data;     // float32 constants only; empty for activations
};

struct Operation {
  OpType type = OpType::Add;
  std::vector<int> inputs;  // tensor indices of the float inputs; -1 for an absent optional bias
  int output = -1;
  Activation activation = Activation::None;
  Window window;                                // Conv2D, DepthwiseConv2D, MaxPool2D
  int depth_multiplier = 1;                     // DepthwiseConv2D
  int block_size = 1;                           // DepthToSpace
  int axis = 0;                                 // Concatenation, non-negative
  bool align_corners = false;                   // ResizeBilinear
  bool half_pixel_centers = false;              // ResizeBilinear
  std::vector<int> pad_before, pad_after;       // Pad, one entry per dimension
};

struct Graph {
  std::vector<Tensor> tensors;
  std::vector<Operation> operations;  // in execution order: inputs are always produced earlier
  std::vector<int> inputs;
  std::vector<int> outputs;
};

// Parses and validates a TFLite flatbuffer. Throws monobody::Error with a one-line message naming the
// first problem found (corrupt or truncated data, an unsupported operator, type or option, bad shapes).
Graph read_tflite(std::span<const std::uint8_t> bytes);
// As above for a file; the message names the file.
Graph read_tflite_file(const std::filesystem::path& path);

// IEEE 754 binary16 to binary32, exact for every value (subnormals, infinities, NaN).
float half_to_float(std::uint16_t half);

}  // namespace monobody::nn
