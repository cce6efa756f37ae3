// Ordinal depth: relations people can state about a picture ("the left knee is nearer than the right knee"),
// used as constraints when lifting and as a metric of a 3D result.
//
// Syntax, one relation per line (blank lines and lines starting with '#' are skipped):
//     Z(left knee) > Z(right knee)      left knee is FARTHER from the camera than the right knee
//     Z(left wrist) < Z(head)           left wrist is nearer
//     Z(left wrist) = Z(left elbow)     about the same depth
// Z is depth along the camera's viewing axis: larger = farther. Joint names are those of the joint set
// (any case, spaces or underscores: "left knee", "Left_Knee").
#pragma once

#include <Eigen/Core>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "monobody/camera.hpp"
#include "monobody/keypoints.hpp"

namespace monobody {

struct OrdinalRelation {
  enum class Order { Farther, Nearer, Equal };  // Z(a) > Z(b), Z(a) < Z(b), Z(a) = Z(b)
  int a = 0;
  int b = 0;
  Order order = Order::Equal;
};

// Parses relations over `joint_set` joints. Throws monobody::Error naming the line and the problem
// (syntax, unknown joint with the valid names, a joint related to itself).
std::vector<OrdinalRelation> parse_ordinal_relations(std::string_view text, JointSet joint_set = JointSet::H36m17);
std::vector<OrdinalRelation> read_ordinal_relations(const std::filesystem::path& path,
                                                    JointSet joint_set = JointSet::H36m17);
std::string format_ordinal_relation(const OrdinalRelation& relation, JointSet joint_set = JointSet::H36m17);

// The relation that holds in `depths` between joints a and b, with |z_a - z_b| <= tolerance counting as "=".
OrdinalRelation::Order ordinal_order(double za, double zb, double tolerance);

// Fraction of all joint pairs whose order in `estimate` matches the order in `truth` (depth = row 2, camera
// frame; same units as the tolerance). Pairs involving an invalid joint of `valid` are skipped.
double ordinal_accuracy(const Eigen::Matrix3Xd& estimate, const Eigen::Matrix3Xd& truth, double equal_tolerance);
// Fraction of the given relations that `joints` satisfy: "<" and ">" by any margin, "=" within the tolerance.
double relations_satisfied(const Eigen::Matrix3Xd& joints, const std::vector<OrdinalRelation>& relations,
                           double equal_tolerance);

// `count` random relations about camera-frame joints (random pairs of distinct joints, possibly repeated),
// with their true order, "=" within `tolerance` (the units of the joints): a simulated annotator.
std::vector<OrdinalRelation> simulate_relations(const Eigen::Matrix3Xd& joints, int count, double tolerance,
                                                std::mt19937& rng);

// The camera-frame translation T that best places root-relative joints X (metres) on the 2D keypoints:
// least squares in normalised image coordinates, linear in T. Throws monobody::Error with < 2 valid joints.
Eigen::Vector3d place_in_camera(const Eigen::Matrix3Xd& root_relative, const Keypoints2D& keypoints,
                                const PinholeCamera<double>& camera);

struct OrdinalRefineOptions {
  double prior_sigma = 0.05;       // metres: how far a joint may move from the lifter's estimate cheaply
  double pixel_sigma = 5.0;        // pixels: weight of the reprojection
  double margin = 0.05;            // metres: a stated ">" or "<" wants at least this depth gap
  double equal_tolerance = 0.05;   // metres: "=" means within this
  double relation_weight = 100.0;  // of the squared hinge, per relation
  int max_iterations = 50;
};

// Moves the lifted joints (root-relative metres, camera frame) as little as possible so that they satisfy the
// relations while keeping their reprojection onto the keypoints and their bone lengths. Returns the refined
// root-relative joints. `camera` gives the image geometry (the person is first placed with place_in_camera).
Eigen::Matrix3Xd refine_with_relations(const Eigen::Matrix3Xd& root_relative, const Keypoints2D& keypoints,
                                       const PinholeCamera<double>& camera,
                                       const std::vector<OrdinalRelation>& relations,
                                       const OrdinalRefineOptions& options = {});

}  // namespace monobody
