// libFuzzer target for the TFLite reader: any byte string must either be rejected with monobody::Error
// or yield a graph the reference kernels can run without touching memory out of bounds. Any other
// exception, a crash or a sanitizer report is a bug. Built by src/nn/fuzz.sh with clang; the replay test
// (fuzz_test.cpp) runs the same function over mutated seeds in every ordinary build.
#include <cstdint>
#include <monobody/error.hpp>

#include "backends.hpp"

namespace {

// Rough count of multiply-adds and copies the reference kernels would do: fuzzed shapes can ask for
// huge (valid) work, which says nothing about memory safety and would only slow the fuzzer down.
double work(const monobody::nn::Graph& graph) {
  double total = 0;
  for (const auto& op : graph.operations) {
    const auto& out = graph.tensors[static_cast<std::size_t>(op.output)];
    double per_output = 1;
    if (op.type == monobody::nn::OpType::Conv2D) {
      per_output = static_cast<double>(graph.tensors[static_cast<std::size_t>(op.inputs[1])].elements) /
                   graph.tensors[static_cast<std::size_t>(op.inputs[1])].shape[0];
    } else if (op.type == monobody::nn::OpType::DepthwiseConv2D || op.type == monobody::nn::OpType::MaxPool2D) {
      per_output = static_cast<double>(op.window.kernel_h) * op.window.kernel_w;
    }
    total += static_cast<double>(out.elements) * per_output;
  }
  return total;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  monobody::nn::Graph graph;
  try {
    graph = monobody::nn::read_tflite({data, size});
  } catch (const monobody::Error&) {
    return 0;  // a clean, one-line rejection: the expected outcome for most inputs
  }
  if (work(graph) > 4e6) return 0;
  auto model = monobody::nn::make_reference_model(std::move(graph));
  for (int i = 0; i < model->input_count(); ++i) {
    for (float& v : model->input(i)) v = 0.5f;
  }
  model->invoke();
  return 0;
}
