// monobody lift: 3D joints from 2D keypoints (a result JSON or a .npy array) by any lifter, optionally held to
// ordinal depth relations.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli.hpp"
#include "monobody/error.hpp"
#include "monobody/keypoint_correction.hpp"
#include "monobody/lift.hpp"
#include "monobody/mlp_lifter.hpp"
#include "monobody/npy.hpp"
#include "monobody/ordinal.hpp"
#include "monobody/result.hpp"
#include "monobody/smoothing.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>

namespace monobody::cli {
namespace {

// The joint set of a .npy with J joints per pose when the user does not say.
JointSet joint_set_of_count(std::int64_t joints) {
  switch (joints) {
    case 17: return JointSet::H36m17;
    case 16: return JointSet::Mpii16;
    case 33: return JointSet::BlazePose33;
    case 14: return JointSet::Lsp14;
  }
  throw Error("a .npy of " + std::to_string(joints) + " joints: give its joint set with --joint-set");
}

// (J, 2|3) or (N, J, 2|3) -> N keypoint sets; a third column is the confidence.
std::vector<Keypoints2D> read_npy_keypoints(const std::string& path, const std::string& joint_set) {
  const NpyArray<double> a = read_npy<double>(path);
  std::vector<std::int64_t> shape = a.shape;
  if (shape.size() == 2) shape.insert(shape.begin(), 1);
  if (shape.size() != 3 || (shape[2] != 2 && shape[2] != 3) || shape[0] < 1)
    throw Error("'" + path + "': expected an array of shape (J, 2), (J, 3), (N, J, 2) or (N, J, 3)");
  const JointSet set = joint_set.empty() ? joint_set_of_count(shape[1]) : parse_joint_set(joint_set);
  if (skeleton(set).size() != shape[1])
    throw Error("'" + path + "' has " + std::to_string(shape[1]) + " joints per pose, " + std::string(to_string(set)) +
                " has " + std::to_string(skeleton(set).size()));
  std::vector<Keypoints2D> out;
  for (std::int64_t n = 0; n < shape[0]; ++n) {
    Keypoints2D kp = Keypoints2D::zeros(set);
    for (std::int64_t j = 0; j < shape[1]; ++j) {
      const std::size_t base = std::size_t((n * shape[1] + j) * shape[2]);
      kp.xy.col(j) << a.data[base], a.data[base + 1];
      kp.confidence[j] = shape[2] == 3 ? a.data[base + 2] : 1.0;
      const auto where = [&] { return "'" + path + "', pose " + std::to_string(n) + ", joint " + std::to_string(j) + ": "; };
      if (!kp.xy.col(j).allFinite() || !std::isfinite(kp.confidence[j]))
        throw Error(where() + "not a number (a joint that was not seen is given with confidence 0)");
      if (kp.xy.col(j).cwiseAbs().maxCoeff() > 1e7) throw Error(where() + "a coordinate beyond 1e7 pixels");
      if (kp.confidence[j] < 0 || kp.confidence[j] > 1) throw Error(where() + "the confidence must be in [0, 1]");
    }
    out.push_back(std::move(kp));
  }
  return out;
}

// The camera to place a person with when the input does not say: the picture's own geometry if its size is
// known (focal length = the image diagonal, a typical phone or webcam field of view), else a view centred on the
// person (the root-relative result does not depend on the focal length then).
PinholeCamera<double> assumed_camera(const FrameResult& frame, const Keypoints2D& keypoints) {
  PinholeCamera<double> camera;
  if (frame.image_width > 0 && frame.image_height > 0) {
    camera.fx = camera.fy = std::hypot(double(frame.image_width), double(frame.image_height));
    camera.cx = frame.image_width / 2.0;
    camera.cy = frame.image_height / 2.0;
  } else {
    camera.fx = camera.fy = 1000.0;
    const Eigen::Vector2d centre = keypoints.xy.rowwise().mean();
    camera.cx = centre.x();
    camera.cy = centre.y();
  }
  return camera;
}

// "auto": the network that uses the 2D network's depth when every person to lift has it, else the plain one.
LifterKind choose_lifter(const std::string& method, const Result& result) {
  if (method != "auto") return parse_lifter_kind(method);
  bool all_have_depth = true, any = false;
  for (const auto& frame : result.frames)
    for (const auto& person : frame.people)
      if (person.keypoints2d) {
        any = true;
        all_have_depth = all_have_depth && person.keypoints2d->depth.size() == person.keypoints2d->size();
      }
  return any && all_have_depth ? LifterKind::MlpOrdinal : LifterKind::Mlp;
}

// Each person's runs of consecutive frames, as (frame, person) indices in frame order: a run ends where the
// person was not seen in the next frame.
std::vector<std::vector<std::pair<std::size_t, std::size_t>>> person_runs(const Result& result) {
  std::map<int, std::vector<std::pair<std::size_t, std::size_t>>> tracks;  // id -> (frame, person)
  for (std::size_t f = 0; f < result.frames.size(); ++f)
    for (std::size_t i = 0; i < result.frames[f].people.size(); ++i)
      if (result.frames[f].people[i].keypoints2d) tracks[result.frames[f].people[i].id].emplace_back(f, i);
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> runs;
  for (const auto& [id, seen] : tracks)
    for (std::size_t k = 0; k < seen.size(); ++k) {
      if (k == 0 || result.frames[seen[k].first].frame != result.frames[seen[k - 1].first].frame + 1) runs.emplace_back();
      runs.back().push_back(seen[k]);
    }
  return runs;
}

// The time between the result's consecutive frames (median, seconds): 1 / fps when given, else from the frames'
// times; 1/30 s when they carry none (a .npy input, or photos).
double frame_interval_s(const Result& result, double fps) {
  if (fps > 0) return 1.0 / fps;
  std::vector<double> steps;
  for (std::size_t f = 1; f < result.frames.size(); ++f)
    if (const double dt = result.frames[f].time - result.frames[f - 1].time; dt > 0) steps.push_back(dt);
  if (steps.empty()) {
    spdlog::warn("--temporal: the frames carry no times; taken to be 30 per second (say otherwise with --fps)");
    return 1.0 / 30.0;
  }
  std::nth_element(steps.begin(), steps.begin() + std::ptrdiff_t(steps.size() / 2), steps.end());
  return steps[steps.size() / 2];
}

}  // namespace

Command add_lift_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string input, output, method = "auto", model, relations, joint_set, correction;
    bool temporal = false;
    double alpha = SparseLiftOptions{}.alpha;
    double bone_length = kH36mMeanBoneLength;
    double fps = 0.0;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("lift", "Lift 2D keypoints to 3D joints (learned network or sparse shape-space model)");
  sub->add_option("input", opt->input, "Result JSON with keypoints2d, or a .npy of 2D points (J,2|3) or (N,J,2|3)")
      ->required();
  sub->add_option("-o,--output", opt->output, "Output: result JSON, or .npy of (N, 17, 3) joints in metres")
      ->required();
  sub->add_option("--method", opt->method,
                  "mlp (network on 2D), mlp+ordinal (also takes the 2D network's depth), sparse (pose dictionary), "
                  "or auto: mlp+ordinal when the keypoints carry depth, else mlp")
      ->check(CLI::IsMember({"auto", "mlp", "mlp+ordinal", "sparse"}));
  sub->add_option("--model", opt->model,
                  "Lifter model: a .mlp network or a network ensemble .json, or a pose dictionary .json for sparse "
                  "(default: models/lift/, CMU-only)");
  sub->add_option("--dictionary", opt->model, "Same as --model, for the sparse method");
  sub->add_option("--relations", opt->relations,
                  "Ordinal depth relations imposed on every person, one per line: Z(left knee) > Z(right knee)")
      ->check(CLI::ExistingFile);
  sub->add_flag("--temporal", opt->temporal,
                fmt::format("On a video, each person's consecutive frames together: the sparse method solves them "
                            "jointly, with temporal smoothness; a network lifts them after smoothing their keypoints "
                            "over time ({} s)",
                            kMlpSequenceSigmaSeconds));
  sub->add_option("--fps", opt->fps,
                  "Frames per second of the input (default: from the result's frame times; a .npy has none, and its "
                  "frames then get times from this)")
      ->check(CLI::Range(0.01, 10000.0));
  sub->add_option("--joint-set", opt->joint_set, "Joint set of a .npy input (default: from its joint count)");
  sub->add_option("--correction", opt->correction,
                  "Correct the keypoints of a detector towards Human3.6M's joints before lifting (a train-correction "
                  "file, e.g. models/lift-h36m/sh-correction.json for Stacked-Hourglass MPII-16 keypoints, best with "
                  "--alpha 0.1)")
      ->check(CLI::ExistingFile);
  sub->add_option("--alpha", opt->alpha, "Sparse method: sparsity weight")->check(CLI::NonNegativeNumber);
  sub->add_option("--bone-length", opt->bone_length, "Sparse method: mean bone length of the output, metres")
      ->check(CLI::PositiveNumber);
  return {sub, [opt] {
            Result result;
            const bool npy_input = std::filesystem::path(opt->input).extension() == ".npy";
            if (npy_input) {
              const auto poses = read_npy_keypoints(opt->input, opt->joint_set);
              for (std::size_t n = 0; n < poses.size(); ++n) {
                FrameResult frame;
                frame.source = std::filesystem::path(opt->input).filename().string();
                frame.frame = int(n);
                if (opt->fps > 0) frame.time = double(n) / opt->fps;
                Person person;
                person.keypoints2d = poses[n];
                frame.people.push_back(std::move(person));
                result.frames.push_back(std::move(frame));
              }
            } else {
              result = read_result(opt->input);
            }
            result.generator = std::string("monobody ") + MONOBODY_VERSION;
            // Read every input before the work starts: a bad relations file fails at once.
            const std::vector<OrdinalRelation> relations =
                opt->relations.empty() ? std::vector<OrdinalRelation>{} : read_ordinal_relations(opt->relations);
            const LifterKind kind = choose_lifter(opt->method, result);
            // What the lifter reads: the keypoints, or their corrected copies (the result keeps the detector's).
            std::vector<std::vector<Keypoints2D>> corrected(result.frames.size());
            if (!opt->correction.empty()) {
              const KeypointCorrection correction = read_keypoint_correction(opt->correction);
              for (std::size_t f = 0; f < result.frames.size(); ++f)
                for (const auto& person : result.frames[f].people) {
                  if (!person.keypoints2d) {
                    corrected[f].emplace_back();
                  } else if (person.keypoints2d->joint_set != correction.from) {
                    throw Error("'" + opt->correction + "' corrects " + std::string(to_string(correction.from)) +
                                " keypoints; frame " + std::to_string(result.frames[f].frame) + " has " +
                                std::string(to_string(person.keypoints2d->joint_set)));
                  } else {
                    corrected[f].push_back(correction.apply(*person.keypoints2d));
                  }
                }
            }
            // With --temporal, a network reads each person's keypoints smoothed over their frames (filled below).
            std::map<std::pair<std::size_t, std::size_t>, Keypoints2D> smoothed;  // (frame, person) ->
            const auto lift_input = [&](std::size_t f, std::size_t i) -> const Keypoints2D& {
              if (const auto it = smoothed.find({f, i}); it != smoothed.end()) return it->second;
              return corrected[f].empty() ? *result.frames[f].people[i].keypoints2d : corrected[f][i];
            };
            if (kind == LifterKind::MlpOrdinal)
              for (const auto& frame : result.frames)
                for (const auto& person : frame.people)
                  if (person.keypoints2d && person.keypoints2d->depth.size() != person.keypoints2d->size())
                    throw Error("'" + opt->input + "': frame " + std::to_string(frame.frame) + " person " +
                                std::to_string(person.id) +
                                " has no relative depths (as BlazePose gives) for mlp+ordinal; use --method mlp");
            std::unique_ptr<Lifter> lifter;
            if (kind == LifterKind::Sparse) {
              SparseLifterOptions options;
              options.solver.alpha = opt->alpha;
              options.mean_bone_length = opt->bone_length;
              options.temporal = opt->temporal;
              lifter = std::make_unique<SparseLifter>(
                  read_pose_dictionary(opt->model.empty() ? default_pose_dictionary_path() : std::filesystem::path(opt->model)),
                  options);
            } else {
              lifter = make_lifter(kind, opt->model);
            }

            const bool knows_relations = !relations.empty() && lifter->reads_relations();
            // Lift everyone: frame by frame, or (--temporal) each person's runs of consecutive frames together.
            std::vector<std::vector<std::optional<LiftOutput>>> outputs(result.frames.size());
            std::vector<std::vector<std::string>> failures(result.frames.size());
            for (std::size_t f = 0; f < result.frames.size(); ++f) {
              outputs[f].resize(result.frames[f].people.size());
              failures[f].resize(result.frames[f].people.size());
            }
            // --temporal, each person's runs of consecutive frames: the sparse model solves a run's frames jointly;
            // a network sees one frame, so a run's keypoints are smoothed over kMlpSequenceSigmaSeconds (the
            // frame times give it in frames) and lifted below frame by frame, knowing the relations if it reads them.
            const bool joint_solve = opt->temporal && kind == LifterKind::Sparse;
            if (opt->temporal) {
              const double sigma_frames = joint_solve ? 0.0 : kMlpSequenceSigmaSeconds / frame_interval_s(result, opt->fps);
              for (const auto& run : person_runs(result)) {
                std::vector<Keypoints2D> keypoints;
                for (const auto& [f, i] : run) keypoints.push_back(lift_input(f, i));
                if (!joint_solve) {
                  smooth_keypoint_sequence(keypoints, sigma_frames, kMlpSequenceOutlierScale);
                  for (std::size_t k = 0; k < run.size(); ++k) smoothed.emplace(run[k], std::move(keypoints[k]));
                  continue;
                }
                const FrameResult& first = result.frames[run.front().first];
                const auto lifted_run = lifter->lift_sequence(keypoints, first.camera ? &*first.camera : nullptr);
                for (std::size_t k = 0; k < run.size(); ++k) {
                  outputs[run[k].first][run[k].second] = lifted_run[k];
                  if (!lifted_run[k]) failures[run[k].first][run[k].second] = "cannot lift this frame";
                }
              }
            }
            if (!joint_solve) {
              for (std::size_t f = 0; f < result.frames.size(); ++f) {
                const FrameResult& frame = result.frames[f];
                for (std::size_t i = 0; i < frame.people.size(); ++i) {
                  if (!frame.people[i].keypoints2d) continue;
                  try {
                    const PinholeCamera<double>* camera = frame.camera ? &*frame.camera : nullptr;
                    // A network that reads relations lifts knowing them (once); any lifter is refined with them below.
                    outputs[f][i] = knows_relations ? lifter->lift_knowing(lift_input(f, i), camera, relations)
                                                    : lifter->lift(lift_input(f, i), camera);
                  } catch (const Error& e) {
                    failures[f][i] = e.what();
                  }
                }
              }
            }

            int lifted = 0, skipped = 0;
            std::vector<float> joints;  // for a .npy output
            for (std::size_t f = 0; f < result.frames.size(); ++f) {
              FrameResult& frame = result.frames[f];
              const PinholeCamera<double>* camera = frame.camera ? &*frame.camera : nullptr;
              for (std::size_t i = 0; i < frame.people.size(); ++i) {
                Person& person = frame.people[i];
                if (!person.keypoints2d) continue;
                try {
                  if (!outputs[f][i]) throw Error(failures[f][i]);
                  LiftOutput out = *outputs[f][i];
                  person.extras["lift"] = {{"lifter", std::string(to_string(kind)) + (opt->temporal ? " (temporal)" : "")},
                                           {"root_relative", true},
                                           {"iterations", out.iterations},
                                           {"reprojection_rms", out.reprojection_rms}};
                  if (!relations.empty()) {
                    const Keypoints2D h36m = map_joints(lift_input(f, i), JointSet::H36m17);
                    const PinholeCamera<double> cam = camera ? *camera : assumed_camera(frame, h36m);
                    // Imposed on any lifter's output (the sparse model's video solver does not read them).
                    out.joints.xyz = refine_with_relations(out.joints.xyz, h36m, cam, relations);
                    const double tolerance = OrdinalRefineOptions{}.equal_tolerance;
                    person.extras["lift"]["relations"] = relations.size();
                    person.extras["lift"]["relations_satisfied"] =
                        relations_satisfied(out.joints.xyz, relations, tolerance);
                  }
                  person.joints3d = out.joints;
                  for (int j = 0; j < out.joints.size(); ++j)
                    for (int r = 0; r < 3; ++r) joints.push_back(float(out.joints.xyz(r, j)));
                  ++lifted;
                } catch (const Error& e) {
                  // One unusable person (too few joints) must not stop a video; say so and go on.
                  spdlog::warn("frame {} person {}: {}", frame.frame, person.id, e.what());
                  for (int k = 0; k < 17 * 3; ++k) joints.push_back(std::numeric_limits<float>::quiet_NaN());
                  ++skipped;
                }
              }
            }
            if (lifted == 0) throw Error("no person in '" + opt->input + "' could be lifted");
            if (std::filesystem::path(opt->output).extension() == ".npy") {
              write_npy<float>(opt->output, {std::int64_t(joints.size() / 51), 17, 3}, joints.data());
            } else {
              write_result(opt->output, result);
            }
            spdlog::info("lifted {} people ({} skipped) -> {}", lifted, skipped, opt->output);
          }};
}

}  // namespace monobody::cli
