// Pose dictionaries on disk: a JSON description with two NumPy arrays beside it.
#include <cstdlib>
#include <string>
#include <vector>

#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/lift.hpp"
#include "monobody/npy.hpp"

namespace monobody {
namespace fs = std::filesystem;
namespace {

// "models/lift/cmu-k128.json" -> "models/lift/cmu-k128" + suffix
fs::path sibling(const fs::path& json_path, const std::string& suffix) {
  fs::path p = json_path;
  p.replace_extension();
  return p.string() + suffix;
}

}  // namespace

PoseDictionary read_pose_dictionary(const fs::path& json_path) {
  const nlohmann::json info = read_json_file(json_path);
  const std::string where = "pose dictionary " + json_path.string() + ": ";
  if (!info.is_object()) throw Error(where + "expected a JSON object");
  // Another of our JSON files (a network ensemble, a keypoint correction) is named as what it is.
  if (info.contains("schema") && info["schema"] != "monobody.pose_dictionary")
    throw Error(where + "not a pose dictionary (its schema is " + info["schema"].dump() + ")");
  if (info.contains("format")) throw Error(where + "not a pose dictionary (its format is " + info["format"].dump() + ")");
  if (info.contains("joint_set") && !info["joint_set"].is_string()) throw Error(where + "joint_set must be a name");
  PoseDictionary d;
  d.joint_set = parse_joint_set(info.value("joint_set", std::string("h36m17")));
  const int J = skeleton(d.joint_set).size();

  const NpyArray<double> B = read_npy<double>(sibling(json_path, ".B.npy"));
  const NpyArray<double> mu = read_npy<double>(sibling(json_path, ".mu.npy"));
  if (B.shape.size() != 3 || B.shape[1] != 3 || B.shape[2] != J || B.shape[0] < 1)
    throw Error(where + "bases must have shape (K, 3, " + std::to_string(J) + ")");
  if (mu.shape.size() != 2 || mu.shape[0] != 3 || mu.shape[1] != J)
    throw Error(where + "mean must have shape (3, " + std::to_string(J) + ")");

  // File joint i -> our joint order[i].
  std::vector<int> order(J);
  for (int j = 0; j < J; ++j) order[j] = j;
  if (info.contains("index_in_h36m17")) {
    if (d.joint_set != JointSet::H36m17) throw Error(where + "index_in_h36m17 given for a non-h36m17 dictionary");
    const auto& index = info["index_in_h36m17"];
    if (!index.is_array() || int(index.size()) != J) throw Error(where + "index_in_h36m17 must list 17 indices");
    std::vector<bool> seen(J, false);
    for (int j = 0; j < J; ++j) {
      if (!index[j].is_number_integer()) throw Error(where + "index_in_h36m17 must hold integers");
      const int target = index[j].get<int>();
      if (target < 0 || target >= J || seen[target]) throw Error(where + "index_in_h36m17 is not a permutation");
      seen[target] = true;
      order[j] = target;
    }
  }

  const int K = int(B.shape[0]);
  d.bases.resize(3 * K, J);
  d.mean.resize(3, J);
  for (int k = 0; k < K; ++k)
    for (int r = 0; r < 3; ++r)
      for (int j = 0; j < J; ++j) d.bases(3 * k + r, order[j]) = B.at({k, r, j});
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < J; ++j) d.mean(r, order[j]) = mu.at({r, j});
  if (!d.bases.allFinite() || !d.mean.allFinite()) throw Error(where + "non-finite values");
  d.info = info;
  return d;
}

void write_pose_dictionary(const fs::path& json_path, const PoseDictionary& d) {
  const int K = d.size(), J = d.joint_count();
  std::vector<float> B(std::size_t(K) * 3 * J), mu(std::size_t(3) * J);
  for (int k = 0; k < K; ++k)
    for (int r = 0; r < 3; ++r)
      for (int j = 0; j < J; ++j) B[(std::size_t(k) * 3 + r) * J + j] = float(d.bases(3 * k + r, j));
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < J; ++j) mu[std::size_t(r) * J + j] = float(d.mean(r, j));
  nlohmann::json info = d.info;
  info["schema"] = "monobody.pose_dictionary";
  info["version"] = 1;
  info["joint_set"] = std::string(to_string(d.joint_set));
  info["bases"] = K;
  info["arrays"] = {{"B", sibling(json_path, ".B.npy").filename().string() + " float32 (K, 3, J)"},
                    {"mu", sibling(json_path, ".mu.npy").filename().string() + " float32 (3, J)"}};
  write_npy<float>(sibling(json_path, ".B.npy"), {K, 3, J}, B.data());
  write_npy<float>(sibling(json_path, ".mu.npy"), {3, J}, mu.data());
  write_file_atomic(json_path, info.dump(1) + "\n");
}

fs::path default_pose_dictionary_path() {
  const char* src = std::getenv("MONOBODY_SOURCE_DIR");
#ifdef MONOBODY_SOURCE_DIR
  if (!src || !*src) src = MONOBODY_SOURCE_DIR;
#endif
  return fs::path(src ? src : ".") / "models" / "lift" / "cmu-k128.json";
}

}  // namespace monobody
