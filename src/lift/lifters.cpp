// Choosing a lifter by name: the one place that knows every kind and its default model.
#include "monobody/error.hpp"
#include "monobody/lift.hpp"
#include "monobody/mlp_lifter.hpp"

namespace monobody {

std::vector<std::optional<LiftOutput>> Lifter::lift_sequence(const std::vector<Keypoints2D>& frames,
                                                             const PinholeCamera<double>* camera) const {
  std::vector<std::optional<LiftOutput>> out(frames.size());
  for (std::size_t t = 0; t < frames.size(); ++t) {
    try {
      out[t] = lift(frames[t], camera);
    } catch (const Error&) {
      // an unusable frame stays empty; the others go on
    }
  }
  return out;
}

LiftOutput Lifter::lift_knowing(const Keypoints2D& keypoints, const PinholeCamera<double>* camera,
                                const std::vector<OrdinalRelation>&) const {
  return lift(keypoints, camera);
}

std::string_view to_string(LifterKind kind) {
  switch (kind) {
    case LifterKind::Sparse: return "sparse";
    case LifterKind::Mlp: return "mlp";
    case LifterKind::MlpOrdinal: return "mlp+ordinal";
  }
  return "?";
}

LifterKind parse_lifter_kind(std::string_view name) {
  if (name == "sparse") return LifterKind::Sparse;
  if (name == "mlp") return LifterKind::Mlp;
  if (name == "mlp+ordinal") return LifterKind::MlpOrdinal;
  throw Error("unknown lifter '" + std::string(name) + "' (sparse, mlp, mlp+ordinal)");
}

std::filesystem::path default_lifter_model_path(LifterKind kind) {
  switch (kind) {
    case LifterKind::Sparse: return default_pose_dictionary_path();
    case LifterKind::Mlp: return default_mlp_lifter_path();
    case LifterKind::MlpOrdinal: return default_mlp_lifter_path().parent_path() / "mlp-cmu-depth.mlp";
  }
  return {};
}

std::unique_ptr<Lifter> make_lifter(LifterKind kind, const std::filesystem::path& model, bool flip_average) {
  const std::filesystem::path path = model.empty() ? default_lifter_model_path(kind) : model;
  if (kind == LifterKind::Sparse) {
    SparseLifterOptions options;
    options.flip_average = flip_average;
    return std::make_unique<SparseLifter>(read_pose_dictionary(path), options);
  }
  auto lifter = std::make_unique<MlpLifter>(path, MlpLifterOptions{.flip_average = flip_average});
  if (lifter->uses_depth() != (kind == LifterKind::MlpOrdinal))
    throw Error("'" + path.string() + "' is a network " + (lifter->uses_depth() ? "that takes" : "without") +
                " the keypoints' depth: use " + (lifter->uses_depth() ? "mlp+ordinal" : "mlp") + " with it");
  return lifter;
}

}  // namespace monobody
