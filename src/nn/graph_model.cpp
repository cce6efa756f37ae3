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

}  // namespace monobody::nn
