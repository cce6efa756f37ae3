// Motion capture on monobody's skeleton: CMU joint positions -> joint rotations, and the pose prior.
#pragma once

#include <filesystem>
#include <vector>

#include "monobody/body.hpp"

namespace monobody {

// A Gaussian over the joints the poses move (the global orientation excluded) with per-component limits.
PosePrior learn_pose_prior(const BodyModel& model, const std::vector<Eigen::VectorXd>& poses);

}  // namespace monobody
