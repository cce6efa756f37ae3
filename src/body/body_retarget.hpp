// Motion capture on monobody's skeleton: CMU joint positions -> joint rotations, and the pose prior.
#pragma once

#include <filesystem>
#include <vector>

#include "monobody/body.hpp"

namespace monobody {

// Joint rotations (3J axis-angle; entries 0..2 hold the global orientation) reproducing the bone directions
// of a CMU clip in the expmap_li2018 layout ((T, 38, 3) joint positions, metres, y up), every `step`-th frame.
// Rotations are the smallest that align each bone (twist about a bone is inherited from its parent).
// Throws monobody::Error if the model lacks the cmu_mb joints or the file is not such a clip.
std::vector<Eigen::VectorXd> retarget_cmu_clip(const BodyModel& model, const std::filesystem::path& clip, int step);

// A Gaussian over the joints the poses move (the global orientation excluded) with per-component limits.
PosePrior learn_pose_prior(const BodyModel& model, const std::vector<Eigen::VectorXd>& poses);

}  // namespace monobody
