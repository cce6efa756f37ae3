#include "monobody/skeleton.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "monobody/error.hpp"

namespace monobody {
namespace {

// Fills `mirror` from the names: "left_x" <-> "right_x", everything else maps to itself.
std::vector<int> mirror_from_names(const std::vector<std::string_view>& joints) {
  std::vector<int> mirror(joints.size());
  for (std::size_t i = 0; i < joints.size(); ++i) {
    mirror[i] = int(i);
    std::string name(joints[i]);
    std::string other;
    if (name.starts_with("left_")) other = "right_" + name.substr(5);
    if (name.starts_with("right_")) other = "left_" + name.substr(6);
    // BlazePose's mouth corners are "mouth_left" / "mouth_right".
    if (name.ends_with("_left")) other = name.substr(0, name.size() - 5) + "_right";
    if (name.ends_with("_right")) other = name.substr(0, name.size() - 6) + "_left";
    if (other.empty()) continue;
    for (std::size_t k = 0; k < joints.size(); ++k)
      if (joints[k] == other) mirror[i] = int(k);
  }
  return mirror;
}

std::vector<std::pair<int, int>> bones_from_parents(const std::vector<int>& parents) {
  std::vector<std::pair<int, int>> bones;
  for (std::size_t j = 0; j < parents.size(); ++j)
    if (parents[j] >= 0) bones.emplace_back(parents[j], int(j));
  return bones;
}

Skeleton make(JointSet id, std::string_view name, std::vector<std::string_view> joints, std::vector<int> parents,
              std::vector<std::pair<int, int>> bones = {}) {
  Skeleton s{id, name, std::move(joints), std::move(parents), std::move(bones), {}};
  if (s.bones.empty()) s.bones = bones_from_parents(s.parents);
  s.mirror = mirror_from_names(s.joints);
  return s;
}

const std::array<Skeleton, 5>& all_skeletons() {
  static const std::array<Skeleton, 5> skeletons = {
      make(JointSet::BlazePose33, "blazepose33",
           {"nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
            "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
            "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky",
            "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee",
            "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index",
            "right_foot_index"},
           // A drawing tree rooted at the left hip (BlazePose has no pelvis point).
           {11, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0, 23, 24, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16, -1, 23, 23, 24, 25, 26,
            27, 28, 27, 28},
           // The connections MediaPipe draws.
           {{0, 1}, {1, 2}, {2, 3}, {3, 7}, {0, 4}, {4, 5}, {5, 6}, {6, 8}, {9, 10}, {11, 12}, {11, 13},
            {13, 15}, {15, 17}, {15, 19}, {15, 21}, {17, 19}, {12, 14}, {14, 16}, {16, 18}, {16, 20},
            {16, 22}, {18, 20}, {11, 23}, {12, 24}, {23, 24}, {23, 25}, {24, 26}, {25, 27}, {26, 28},
            {27, 29}, {28, 30}, {29, 31}, {30, 32}, {27, 31}, {28, 32}}),
      make(JointSet::Coco17, "coco17",
           {"nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
            "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
            "right_knee", "left_ankle", "right_ankle"},
           {5, 0, 0, 1, 2, -1, 5, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14},
           {{15, 13}, {13, 11}, {16, 14}, {14, 12}, {11, 12}, {5, 11}, {6, 12}, {5, 6}, {5, 7}, {6, 8},
            {7, 9}, {8, 10}, {1, 2}, {0, 1}, {0, 2}, {1, 3}, {2, 4}, {3, 5}, {4, 6}}),
      make(JointSet::H36m17, "h36m17",
           {"pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "spine",
            "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
            "right_elbow", "right_wrist"},
           {-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15}),
      make(JointSet::Mpii16, "mpii16",
           {"right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
            "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
            "left_elbow", "left_wrist"},
           {1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14}),
      make(JointSet::Lsp14, "lsp14",
           {"right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
            "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top"},
           // LSP has no pelvis: a tree rooted at the neck, hips hanging from the shoulders.
           {1, 2, 8, 9, 3, 4, 7, 8, 12, 12, 9, 10, -1, 12}),
  };
  return skeletons;
}

std::string normalize_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ' ' || c == '-' || c == '_') {
      if (!out.empty() && out.back() != '_') out += '_';
    } else {
      out += char(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

using Sources = std::vector<std::pair<int, double>>;
Sources one(int j) { return {{j, 1.0}}; }
Sources mid(int a, int b) { return {{a, 0.5}, {b, 0.5}}; }
// a + t (b - a)
Sources lerp(int a, int b, double t) { return {{a, 1.0 - t}, {b, t}}; }

JointMapping identity(JointSet set) {
  JointMapping m{set, set, {}};
  for (int j = 0; j < skeleton(set).size(); ++j) m.sources.push_back(one(j));
  return m;
}

// The mappings. Coefficients that are not plain correspondences are stated where they come from.
std::vector<JointMapping> build_mappings() {
  std::vector<JointMapping> maps;
  for (const auto& s : all_skeletons()) maps.push_back(identity(s.id));

  // BlazePose -> COCO: COCO's 17 points are a subset of BlazePose's 33.
  maps.push_back({JointSet::BlazePose33, JointSet::Coco17,
                  {one(0), one(2), one(5), one(7), one(8), one(11), one(12), one(13), one(14), one(15), one(16),
                   one(23), one(24), one(25), one(26), one(27), one(28)}});

  // BlazePose -> H36M: pelvis and thorax are the hip and shoulder midpoints; the spine point lies midway;
  // Human3.6M's "Head" sits at the top of the skull, about the ears' midpoint.
  maps.push_back({JointSet::BlazePose33, JointSet::H36m17,
                  {mid(23, 24), one(24), one(26), one(28), one(23), one(25), one(27),
                   {{23, 0.25}, {24, 0.25}, {11, 0.25}, {12, 0.25}}, mid(11, 12), one(0), mid(7, 8), one(11),
                   one(13), one(15), one(12), one(14), one(16)}});

  // COCO -> H36M: as BlazePose -> H36M with COCO's indices.
  maps.push_back({JointSet::Coco17, JointSet::H36m17,
                  {mid(11, 12), one(12), one(14), one(16), one(11), one(13), one(15),
                   {{11, 0.25}, {12, 0.25}, {5, 0.25}, {6, 0.25}}, mid(5, 6), one(0), mid(3, 4), one(5), one(7),
                   one(9), one(6), one(8), one(10)}});

  // MPII -> H36M, chosen on Human3.6M's training subjects by the median distance of the Stacked-Hourglass
  // detections to the projected ground truth (shared/data/h36m/README.md): H36M's thorax sits where MPII's
  // upper neck is; spine, nose and head are interpolated along pelvis-thorax and upper neck-head top.
  maps.push_back({JointSet::Mpii16, JointSet::H36m17,
                  {one(6), one(2), one(1), one(0), one(3), one(4), one(5), lerp(6, 7, 0.575), one(8),
                   lerp(8, 9, 0.275), lerp(8, 9, 0.6), one(13), one(14), one(15), one(12), one(11), one(10)}});

  // H36M -> MPII: the inverse of the above where it is a correspondence; MPII's thorax lies between the
  // spine and thorax points; the head top extends the neck-head line past the head point.
  maps.push_back({JointSet::H36m17, JointSet::Mpii16,
                  {one(3), one(2), one(1), one(4), one(5), one(6), one(0), lerp(7, 8, 0.55), one(8),
                   lerp(8, 10, 1.0 / 0.6), one(16), one(15), one(14), one(11), one(12), one(13)}});

  // BlazePose -> MPII: upper neck 0.4 of the way from the shoulders' to the ears' midpoint; head top half
  // the shoulder-to-ear distance above the ears. Chosen by PCK@0.2 of BlazePose (full model) against the
  // LSPET labels of shared/data images 1-150 (LSP's neck and head top are MPII's upper neck and head top);
  // images 151-300, held out, went from 76 % to 78 % (neck) and 58 % to 78 % (head top) with them.
  maps.push_back({JointSet::BlazePose33, JointSet::Mpii16,
                  {one(28), one(26), one(24), one(23), one(25), one(27), mid(23, 24), mid(11, 12),
                   {{11, 0.3}, {12, 0.3}, {7, 0.2}, {8, 0.2}},
                   {{11, -0.25}, {12, -0.25}, {7, 0.75}, {8, 0.75}}, one(16), one(14), one(12), one(11), one(13),
                   one(15)}});

  // X -> LSP: LSP's neck is MPII's upper neck; the head top is the same point in both.
  maps.push_back({JointSet::Mpii16, JointSet::Lsp14,
                  {one(0), one(1), one(2), one(3), one(4), one(5), one(10), one(11), one(12), one(13), one(14),
                   one(15), one(8), one(9)}});
  maps.push_back({JointSet::BlazePose33, JointSet::Lsp14,
                  {one(28), one(26), one(24), one(23), one(25), one(27), one(16), one(14), one(12), one(11),
                   one(13), one(15), {{11, 0.3}, {12, 0.3}, {7, 0.2}, {8, 0.2}},
                   {{11, -0.25}, {12, -0.25}, {7, 0.75}, {8, 0.75}}}});
  maps.push_back({JointSet::Coco17, JointSet::Lsp14,
                  {one(16), one(14), one(12), one(11), one(13), one(15), one(10), one(8), one(6), one(5), one(7),
                   one(9), {{5, 0.3}, {6, 0.3}, {3, 0.2}, {4, 0.2}},
                   {{5, -0.25}, {6, -0.25}, {3, 0.75}, {4, 0.75}}}});
  maps.push_back({JointSet::H36m17, JointSet::Lsp14,
                  {one(3), one(2), one(1), one(4), one(5), one(6), one(16), one(15), one(14), one(11), one(12),
                   one(13), one(8), lerp(8, 10, 1.0 / 0.6)}});
  // H36M -> COCO: the face points other than the nose cannot be derived.
  maps.push_back({JointSet::H36m17, JointSet::Coco17,
                  {one(9), {}, {}, {}, {}, one(11), one(14), one(12), one(15), one(13), one(16), one(4), one(1),
                   one(5), one(2), one(6), one(3)}});
  return maps;
}

const std::vector<JointMapping>& all_mappings() {
  static const std::vector<JointMapping> maps = [] {
    auto m = build_mappings();
    for (const auto& map : m) {
      if (int(map.sources.size()) != skeleton(map.to).size())
        throw Error("internal: joint mapping " + std::string(to_string(map.from)) + " -> " +
                    std::string(to_string(map.to)) + " has the wrong number of joints");
    }
    return m;
  }();
  return maps;
}

}  // namespace

const Skeleton& skeleton(JointSet set) {
  for (const auto& s : all_skeletons())
    if (s.id == set) return s;
  throw Error("unknown joint set");
}

std::string_view to_string(JointSet set) { return skeleton(set).name; }

JointSet parse_joint_set(std::string_view name) {
  const std::string key = normalize_name(name);
  for (const auto& s : all_skeletons())
    if (key == s.name) return s.id;
  std::string known;
  for (const auto& s : all_skeletons()) known += (known.empty() ? "" : ", ") + std::string(s.name);
  throw Error("unknown joint set '" + std::string(name) + "' (known: " + known + ")");
}

std::optional<int> find_joint(JointSet set, std::string_view name) {
  const std::string key = normalize_name(name);
  const auto& joints = skeleton(set).joints;
  for (std::size_t j = 0; j < joints.size(); ++j)
    if (joints[j] == key) return int(j);
  return std::nullopt;
}

int joint_index(JointSet set, std::string_view name) {
  if (auto j = find_joint(set, name)) return *j;
  std::string known;
  for (auto n : skeleton(set).joints) known += (known.empty() ? "" : ", ") + std::string(n);
  throw Error("unknown joint '" + std::string(name) + "' in " + std::string(to_string(set)) + " (joints: " + known +
              ")");
}

bool has_joint_mapping(JointSet from, JointSet to) {
  const auto& maps = all_mappings();
  return std::any_of(maps.begin(), maps.end(), [&](const JointMapping& m) { return m.from == from && m.to == to; });
}

const JointMapping& joint_mapping(JointSet from, JointSet to) {
  for (const auto& m : all_mappings())
    if (m.from == from && m.to == to) return m;
  throw Error("no mapping from joint set " + std::string(to_string(from)) + " to " + std::string(to_string(to)));
}

}  // namespace monobody
