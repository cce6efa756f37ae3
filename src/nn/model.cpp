#include <fmt/format.h>

#include <monobody/error.hpp>

#include "backends.hpp"

namespace monobody::nn {

std::unique_ptr<Model> make_model(Graph graph, const ModelOptions& options) {
  // More threads than this only adds contention on any machine this runs on.
  constexpr int kMaxThreads = 256;
  if (options.threads < 1 || options.threads > kMaxThreads) {
    throw Error(fmt::format("thread count {} out of range (1 to {})", options.threads, kMaxThreads));
  }
  switch (options.backend) {
    case Backend::Reference: return make_reference_model(std::move(graph));
    case Backend::Xnnpack: return make_xnnpack_model(std::move(graph), options.threads, options.own_kernels);
  }
  throw Error("unknown backend");
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& path, const ModelOptions& options) {
  return make_model(read_tflite_file(path), options);
}

}  // namespace monobody::nn
