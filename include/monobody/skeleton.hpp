// Joint sets (skeleton definitions) used across monobody, defined once, and the mappings between them.
//
// Joint names are lower-case snake case ("left_knee"); lookups also accept spaces and any case
// ("Left Knee"). Left and right are always the person's own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace monobody {

enum class JointSet {
  BlazePose33,  // MediaPipe BlazePose landmarks, 33 points
  Coco17,       // MS-COCO keypoints
  H36m17,       // Human3.6M 17-joint subset (pelvis root), the lifters' joint set
  Mpii16,       // MPII Human Pose (Stacked-Hourglass output order)
  Lsp14,        // Leeds Sports Pose (and LSPET)
};

struct Skeleton {
  JointSet id;
  std::string_view name;                  // short identifier used in files: "h36m17", "coco17", ...
  std::vector<std::string_view> joints;   // joint names, in the set's order
  std::vector<int> parents;               // parent of each joint, -1 for the root (a drawing tree where the
                                          // set has no kinematic one, e.g. BlazePose's face points)
  std::vector<std::pair<int, int>> bones; // segments to draw / measure
  std::vector<int> mirror;                // index of the left/right partner (itself for centre joints)

  int size() const { return int(joints.size()); }
};

const Skeleton& skeleton(JointSet set);
std::string_view to_string(JointSet set);
// Parses "h36m17", "coco17", "blazepose33", "mpii16", "lsp14" (case-insensitive). Throws monobody::Error.
JointSet parse_joint_set(std::string_view name);
// Index of a joint by name ("left knee", "Left_Knee"); throws monobody::Error naming the valid joints.
int joint_index(JointSet set, std::string_view name);
std::optional<int> find_joint(JointSet set, std::string_view name);

// A linear map between joint sets: target joint j = sum_k weight_k * source joint index_k.
// An empty source list means the target joint cannot be derived (it gets confidence 0).
struct JointMapping {
  JointSet from;
  JointSet to;
  std::vector<std::vector<std::pair<int, double>>> sources;  // one list per target joint
};

bool has_joint_mapping(JointSet from, JointSet to);
// Throws monobody::Error if there is no mapping from `from` to `to`.
const JointMapping& joint_mapping(JointSet from, JointSet to);

}  // namespace monobody
