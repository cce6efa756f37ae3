// What the backends share: a Model over a validated Graph (names, shapes), and the constructors that
// Model::load dispatches to. Tests build small graphs by hand and run them on both backends.
#pragma once

#include <memory>
#include <monobody/nn.hpp>

#include "graph.hpp"

namespace monobody::nn {

class GraphModel : public Model {
 public:
  explicit GraphModel(Graph graph);

  int input_count() const override { return static_cast<int>(graph_.inputs.size()); }
  int output_count() const override { return static_cast<int>(graph_.outputs.size()); }
  const std::vector<int>& input_shape(int i) const override { return input_tensor(i).shape; }
  const std::vector<int>& output_shape(int i) const override { return output_tensor(i).shape; }
  const std::string& input_name(int i) const override { return input_tensor(i).name; }
  const std::string& output_name(int i) const override { return output_tensor(i).name; }

  const Graph& graph() const { return graph_; }

 protected:
  // Tensor index of input/output i; throws monobody::Error for an index out of range.
  int input_id(int i) const;
  int output_id(int i) const;

  Graph graph_;

 private:
  const Tensor& input_tensor(int i) const { return graph_.tensors[static_cast<std::size_t>(input_id(i))]; }
  const Tensor& output_tensor(int i) const { return graph_.tensors[static_cast<std::size_t>(output_id(i))]; }
};

std::unique_ptr<Model> make_reference_model(Graph graph);
std::unique_ptr<Model> make_xnnpack_model(Graph graph, int threads, bool own_kernels = true);
// Backend and thread count checked, then one of the above.
std::unique_ptr<Model> make_model(Graph graph, const ModelOptions& options);

}  // namespace monobody::nn
