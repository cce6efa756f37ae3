#include <fmt/format.h>

#include <monobody/error.hpp>

#include "backends.hpp"

namespace monobody::nn {

GraphModel::GraphModel(Graph graph) : graph_(std::move(graph)) {}

int GraphModel::input_id(int i) const {
  if (i < 0 || i >= input_count()) throw Error(fmt::format("model input {} out of range (it has {})", i, input_count()));
  return graph_.inputs[static_cast<std::size_t>(i)];
}

int GraphModel::output_id(int i) const {
  if (i < 0 || i >= output_count()) {
    throw Error(fmt::format("model output {} out of range (it has {})", i, output_count()));
  }
  return graph_.outputs[static_cast<std::size_t>(i)];
}

int Model::output_index(std::string_view name) const {
  std::string names;
  for (int i = 0; i < output_count(); ++i) {
    if (output_name(i) == name) return i;
    names += (i ? ", " : "") + output_name(i);
  }
  throw Error(fmt::format("the model has no output named '{}' (outputs: {})", name, names));
}

std::unique_ptr<Model> make_model(Graph graph, const ModelOptions& options) {
  // More threads than this only adds contention on any machine this runs on.
  constexpr int kMaxThreads = 256;
  if (options.threads < 1 || options.threads > kMaxThreads) {
    throw Error(fmt::format("thread count {} out of range (1 to {})", options.threads, kMaxThreads));
  }
  switch (options.backend) {
    case Backend::Reference: return make_reference_model(std::move(graph));
    case Backend::Xnnpack: return make_xnnpack_model(std::move(graph), options.threads);
  }
  throw Error("unknown backend");
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& path, const ModelOptions& options) {
  return make_model(read_tflite_file(path), options);
}

}  // namespace monobody::nn
