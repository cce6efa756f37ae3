// The Human3.6M evaluation: every selected frame of every camera of the chosen subjects, lifted and compared
// with the ground truth in the camera frame.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "monobody/error.hpp"
#include "monobody/eval.hpp"
#include "monobody/h36m_data.hpp"
#include "monobody/npy.hpp"
#include "monobody/mlp_lifter_train.hpp"
#include "monobody/ordinal.hpp"
#include "monobody/smoothing.hpp"

namespace monobody {
namespace {

// One camera's view of one sequence: the task unit of the evaluation.
struct View {
  int action = -1;
  const NpyArray<float>* world = nullptr;  // (T, 17, 3) mm
  NpyArray<float> detections;              // (T, 16, 2) px, only for the SH input
  H36mCamera camera;
  std::vector<int> frames;
};

struct PoseResult {
  double p1 = 0, p2 = 0, ms = 0;
  double ordinal = 0;                                   // ordinal accuracy
  double p1_before = 0, p2_before = 0, ordinal_before = 0;  // before the relations' refinement
  int iterations = 0;
  bool ok = false;
};

std::vector<PoseResult> run_view(const Lifter& lifter, const View& v, const H36mEvalOptions& options,
                                 unsigned seed) {
  const H36mInput input = options.input;
  const double tolerance = options.ordinal_tolerance_mm;
  std::mt19937 rng(seed);  // per view: results do not depend on the number of threads
  const std::size_t n = v.frames.size();
  std::vector<PoseResult> out(n);
  std::vector<Eigen::Matrix3Xd> truths(n, Eigen::Matrix3Xd(3, 17));
  std::vector<Keypoints2D> inputs(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int f = v.frames[i];
    Eigen::Matrix3Xd& truth = truths[i];
    for (int j = 0; j < 17; ++j)
      truth.col(j) = v.camera.pose.to_camera(Eigen::Vector3d(v.world->at({f, j, 0}), v.world->at({f, j, 1}),
                                                             v.world->at({f, j, 2})));
    Keypoints2D& kp = inputs[i];
    if (input == H36mInput::GroundTruth) {
      kp = Keypoints2D::zeros(JointSet::H36m17);
      for (int j = 0; j < 17; ++j) kp.xy.col(j) = v.camera.intrinsics.project(truth.col(j));
    } else {
      kp = h36m_detection(v.detections, f);
    }
    kp.confidence.setOnes();
    if (options.correction && input == H36mInput::StackedHourglass) kp = options.correction->apply(kp);
    if (options.simulated_depth_noise >= 0) {
      const Keypoints2D h36m = kp.joint_set == JointSet::H36m17 ? kp : map_joints(kp, JointSet::H36m17);
      const Eigen::VectorXd depth = simulate_network_depth(truth, v.camera.intrinsics, h36m.xy,
                                                           options.simulated_depth_noise, 0.4, rng);
      // Back to the input's joint set where it has one (MPII): nearest H36M joint by the mapping's first source.
      if (kp.joint_set == JointSet::H36m17) {
        kp.depth = depth;
      } else {
        kp = h36m;
        kp.depth = depth;
      }
    }
  }

  if (options.video) smooth_keypoint_sequence(inputs, options.keypoint_smoothing_frames, options.keypoint_outlier_scale);

  // Lift: frame by frame, or the view's frames as one sequence.
  std::vector<std::optional<LiftOutput>> lifted(n);
  if (options.video) {
    const auto start = std::chrono::steady_clock::now();
    lifted = lifter.lift_sequence(inputs, &v.camera.intrinsics);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    for (auto& r : out) r.ms = ms / double(std::max<std::size_t>(n, 1));
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const auto start = std::chrono::steady_clock::now();
      try {
        lifted[i] = lifter.lift(inputs[i], &v.camera.intrinsics);
      } catch (const Error&) {
      }
      out[i].ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    }
  }

  for (std::size_t i = 0; i < n; ++i) {
    if (!lifted[i]) continue;  // counted as a failure
    const Eigen::Matrix3Xd& truth = truths[i];
    Eigen::Matrix3Xd estimate = lifted[i]->joints.xyz * 1000.0;
    out[i].p1 = out[i].p1_before = mpjpe(estimate, truth);
    out[i].p2 = out[i].p2_before = pa_mpjpe(estimate, truth);
    out[i].ordinal = out[i].ordinal_before = ordinal_accuracy(estimate, truth, tolerance);
    out[i].iterations = lifted[i]->iterations;
    out[i].ok = true;
    if (options.simulated_relations > 0) {
      const auto relations = simulate_relations(truth, options.simulated_relations, tolerance, rng);
      const Keypoints2D h36m =
          inputs[i].joint_set == JointSet::H36m17 ? inputs[i] : map_joints(inputs[i], JointSet::H36m17);
      OrdinalRefineOptions refine;
      // The simulated annotator says "=" within the tolerance, so its ">" means a gap of at least as much.
      refine.equal_tolerance = refine.margin = tolerance / 1000.0;
      try {
        // A lifter that reads relations lifts again knowing them; the refinement then imposes them on any lifter.
        const Eigen::Matrix3Xd lifted_knowing = lifter.reads_relations()
                                                    ? lifter.lift_knowing(inputs[i], &v.camera.intrinsics, relations).joints.xyz
                                                    : lifted[i]->joints.xyz;
        estimate = refine_with_relations(lifted_knowing, h36m, v.camera.intrinsics, relations, refine) * 1000.0;
        out[i].p1 = mpjpe(estimate, truth);
        out[i].p2 = pa_mpjpe(estimate, truth);
        out[i].ordinal = ordinal_accuracy(estimate, truth, tolerance);
      } catch (const Error&) {
        out[i].ok = false;
      }
    }
  }
  return out;
}

}  // namespace

int h36m_action_index(std::string_view sequence) {
  const auto underscore = sequence.find('_');
  const std::string_view base = sequence.substr(0, underscore);
  for (int a = 0; a < kH36mActionCount; ++a)
    if (kH36mActions[a] == base) return a;
  return -1;
}

H36mReport evaluate_h36m(const Lifter& lifter, const H36mEvalOptions& options,
                         const std::function<void(long, long)>& progress) {
  if (options.stride < 1) throw Error("h36m: the stride must be at least 1");
  if (options.max_frames < 0) throw Error("h36m: max frames must be >= 0");
  // Load everything first (S9 is ~10 MB), so the workers only compute.
  const std::vector<H36mSequence> sequences = load_h36m(options.data_dir, options.subjects);
  std::vector<View> views;
  for (const H36mSequence& seq : sequences) {
    const int a = h36m_action_index(seq.name);
    if (a < 0) throw Error("h36m: unknown action '" + seq.name + "'");
    std::vector<int> frames;
    for (long f = 0; f < seq.frame_count(); f += options.stride) {
      if (options.max_frames > 0 && long(frames.size()) >= options.max_frames) break;
      frames.push_back(int(f));
    }
    for (int c = 0; c < kH36mCameraCount; ++c) {
      View v;
      v.action = a;
      v.world = &seq.world;
      v.frames = frames;
      v.camera = seq.cameras[std::size_t(c)];
      if (options.input == H36mInput::StackedHourglass) v.detections = seq.detections(c);
      views.push_back(std::move(v));
    }
  }
  if (views.empty()) throw Error("h36m: no sequences for the chosen subjects");

  long total = 0;
  for (const auto& v : views) total += long(v.frames.size());
  std::vector<std::vector<PoseResult>> results(views.size());
  std::atomic<std::size_t> next{0};
  std::atomic<long> done{0};
  auto worker = [&](bool report) {
    for (std::size_t i; (i = next.fetch_add(1)) < views.size();) {
      results[i] = run_view(lifter, views[i], options, unsigned(1000003 * i + 17));
      done += long(results[i].size());
      if (report && progress) progress(done.load(), total);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < std::max(1, options.threads); ++t) threads.emplace_back(worker, false);
  worker(true);
  for (auto& t : threads) t.join();
  if (progress) progress(total, total);

  H36mReport report;
  report.lifter = lifter.name();
  report.subjects = options.subjects;
  report.input = options.input == H36mInput::GroundTruth ? "gt" : "sh";
  for (std::size_t i = 0; i < views.size(); ++i) {
    auto& errors = report.actions[views[i].action];
    for (const PoseResult& r : results[i]) {
      if (!r.ok) {
        ++report.failures;
        continue;
      }
      ++errors.poses;
      errors.p1 += r.p1;
      errors.p2 += r.p2;
      report.ordinal_accuracy += r.ordinal;
      report.ordinal_accuracy_without_relations += r.ordinal_before;
      errors.p1_without_relations += r.p1_before;
      errors.p2_without_relations += r.p2_before;
      report.milliseconds.push_back(r.ms);
      report.iterations.push_back(r.iterations);
    }
  }
  report.relations_per_pose = options.simulated_relations;
  {
    // Pose-weighted means of the ordinal measures and of the errors before the relations.
    long n = 0;
    for (const auto& e : report.actions) n += e.poses;
    const double scale = n > 0 ? 1.0 / double(n) : 0.0;
    report.ordinal_accuracy *= scale;
    report.ordinal_accuracy_without_relations *= scale;
  }
  int actions = 0;
  for (auto& e : report.actions) {
    if (e.poses == 0) continue;
    e.p1 /= double(e.poses);
    e.p2 /= double(e.poses);
    e.p1_without_relations /= double(e.poses);
    e.p2_without_relations /= double(e.poses);
    report.p1 += e.p1;
    report.p2 += e.p2;
    report.p1_without_relations += e.p1_without_relations;
    report.p2_without_relations += e.p2_without_relations;
    report.poses += e.poses;
    ++actions;
  }
  if (actions > 0) {
    report.p1 /= actions;
    report.p2 /= actions;
    report.p1_without_relations /= actions;
    report.p2_without_relations /= actions;
  }
  return report;
}

}  // namespace monobody
