#include "monobody/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <future>

#include "monobody/error.hpp"
#include "monobody/lift.hpp"
#include "monobody/mlp.hpp"
#include "monobody/mlp_lifter.hpp"

namespace monobody {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void warn(Person& person, const std::string& message) {
  if (!person.extras.contains("warnings")) person.extras["warnings"] = nlohmann::json::array();
  person.extras["warnings"].push_back(message);
}

}  // namespace

struct Pipeline::Impl {
  PipelineOptions options;
  PoseDetector detector;
  std::unique_ptr<Lifter> lifter;
  std::optional<BodyModel> model;
  std::unique_ptr<BodyFitter> fitter;
  std::unique_ptr<BodyTrackFitter> track_fitter;  // video: warm starts and one shape per person
  KeypointSmoother smoother;
  PipelineTimings timings;

  static PoseDetectorOptions detector_options(const PipelineOptions& o) {
    PoseDetectorOptions d;
    d.model = o.model;
    d.max_people = o.max_people;
    d.threads = o.threads;
    d.segmentation = o.fit_body && o.silhouette;
    d.heatmaps = o.lifter == LifterKind::Sparse;  // the sparse model lifts by EM over them
    d.detection_tiles = o.detection_tiles;
    return d;
  }

  explicit Impl(PipelineOptions o)
      : options(std::move(o)),
        detector(detector_options(options)),
        lifter(make_lifter(options.lifter, options.lifter_model)),
        smoother(options.smoothing) {
    // The lifter multiplies one pose at a time: OpenBLAS's worker threads would only spin, and on a busy machine
    // take turns with the detector's (measured: 59 ms of lifting per vtest.avi frame instead of 2 ms).
    set_blas_threads(1);
    if (options.fit_body) {
      model = load_body_model(options.body_model.empty() ? default_body_model_path() : options.body_model);
      fitter = std::make_unique<BodyFitter>(*model);
      track_fitter = std::make_unique<BodyTrackFitter>(*fitter, std::max(1, options.shape_frames));
    }
  }

  // 3D joints in the camera frame (metres) for a person's keypoints; false (with a warning) if unusable.
  bool lift(Person& person, const Pose& pose, const PinholeCamera<double>& camera) const {
    const Keypoints2D& kp = *person.keypoints2d;
    try {
      const auto* sparse = dynamic_cast<const SparseLifter*>(lifter.get());
      const LiftOutput out = sparse && !pose.heatmaps.empty() ? sparse->lift_with_heatmaps(kp, pose.heatmaps.samples(), &camera)
                             : lifter->reads_relations()      ? lifter->lift_knowing(kp, &camera, options.relations)
                                                              : lifter->lift(kp, &camera);
      const Keypoints2D h36m = map_joints(kp, JointSet::H36m17);
      Eigen::Matrix3Xd root_relative = out.joints.xyz;
      if (!options.relations.empty()) root_relative = refine_with_relations(root_relative, h36m, camera, options.relations);
      const Eigen::Vector3d t = place_in_camera(root_relative, h36m, camera);
      Joints3D joints = out.joints;
      joints.xyz = root_relative.colwise() + t;
      if (!joints.xyz.allFinite() || t.z() <= 0) throw Error("the lifted joints are not in front of the camera");
      person.joints3d = std::move(joints);
      person.extras["lift"] = {{"lifter", std::string(to_string(options.lifter))}, {"iterations", out.iterations}};
      return true;
    } catch (const Error& e) {
      warn(person, std::string("lift: ") + e.what());
      return false;
    }
  }

  // Fits the body; in a video (`video`) from the person's previous fit, with their settled shape.
  // `mask` is the person's silhouette (binary_mask), empty without one.
  void fit(Person& person, const std::vector<std::uint8_t>& mask, const PinholeCamera<double>& camera, int width,
           int height, bool video, int frame) const {
    BodyFitInput input;
    input.camera = camera;
    input.keypoints = &*person.keypoints2d;
    if (person.joints3d) input.joints3d = &*person.joints3d;
    if (!mask.empty()) {
      input.mask = mask.data();
      input.mask_width = width;
      input.mask_height = height;
    }
    try {
      BodyFitReport report;
      const BodyPose body = video ? track_fitter->fit(person.id, frame, input, {}, &report) : fitter->fit(input, {}, &report);
      person.body = BodyParameters{model->name, body.shape, body.pose, body.global_orient, body.translation};
      person.extras["body_height_m"] = body_height(*model, body.shape);
      person.extras["body_fit"] = {{"keypoint_rms_px", report.keypoint_rms_px}, {"keypoints_used", report.keypoints_used}};
      if (input.mask) person.extras["body_fit"]["silhouette_iou"] = report.silhouette_iou;
    } catch (const Error& e) {
      warn(person, std::string("body fit: ") + e.what());
    }
  }

  // A frame whose people are found (and, in a video, tracked) but not yet lifted and fitted.
  struct Detected {
    FrameResult result;       // people with their keypoints as detected
    std::vector<Pose> poses;  // the detector's output, one per person (heatmaps; their float masks released)
    std::vector<std::vector<std::uint8_t>> masks;  // per person: the silhouette for the fit, or empty
    int width = 0, height = 0;
  };

  // The person's silhouette as the fit reads it (non-zero = person), empty when the fit will not use one.
  // Made at detection so that a look-ahead video's waiting frames hold a byte per pixel, not the detector's
  // float (a 1080p frame with 4 people: 8 MB instead of 33 MB per frame).
  std::vector<std::uint8_t> binary_mask(Pose& pose, int width, int height) const {
    std::vector<std::uint8_t> mask;
    if (fitter && options.silhouette && !pose.mask.empty() && pose.mask.width == width && pose.mask.height == height) {
      mask.resize(pose.mask.values.size());
      for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = pose.mask.values[i] > 0.5f ? 255 : 0;
    }
    pose.mask = {};
    return mask;
  }

  Detected detect(const ImageView& image, const std::string& source, int index, double time,
                  const PinholeCamera<double>& camera, bool video) {
    Detected d;
    d.result.source = source;
    d.result.frame = index;
    d.result.time = time;
    d.result.image_width = d.width = image.width;
    d.result.image_height = d.height = image.height;
    d.result.camera = camera;
    const auto t0 = Clock::now();
    d.poses = video ? detector.detect_video(image, time) : detector.detect(image);
    timings.detect += seconds_since(t0);
    ++timings.frames;
    timings.people += int(d.poses.size());
    for (const Pose& pose : d.poses) {
      Person person = to_person(pose);
      person.extras.erase("roi");  // the detector's internals: in `monobody detect`'s output, not here
      d.result.people.push_back(std::move(person));
    }
    for (Pose& pose : d.poses) d.masks.push_back(binary_mask(pose, d.width, d.height));
    return d;
  }

  // Lifts and fits the people of a detected frame (their keypoints smoothed already, if at all).
  FrameResult finish(Detected d, bool video) {
    FrameResult& result = d.result;
    const std::vector<Pose>& poses = d.poses;
    const PinholeCamera<double>& camera = *result.camera;
    auto t0 = Clock::now();
    for (std::size_t i = 0; i < poses.size(); ++i) lift(result.people[i], poses[i], camera);
    timings.lift += seconds_since(t0);

    if (fitter) {
      t0 = Clock::now();
      // People are independent: fit them on separate threads when there are threads to spare.
      const auto fit_one = [&](std::size_t i) {
        fit(result.people[i], d.masks[i], camera, d.width, d.height, video, result.frame);
      };
      if (options.threads > 1 && poses.size() > 1) {
        std::vector<std::future<void>> jobs;
        for (std::size_t i = 1; i < poses.size(); ++i) jobs.push_back(std::async(std::launch::async, fit_one, i));
        fit_one(0);
        for (auto& j : jobs) j.get();
      } else {
        for (std::size_t i = 0; i < poses.size(); ++i) fit_one(i);
      }
      timings.fit += seconds_since(t0);
    }
    return std::move(result);
  }

  // Look-ahead video: detected frames wait in `window` until the frames 3 sigma after them are detected too.
  // The window also keeps the finished frames of the last 3 sigma, whose raw keypoints the next ones smooth with.
  std::deque<Detected> window;
  std::size_t next = 0;  // the first frame of `window` not yet finished

  // Person `id`'s keypoints in window frame `at`, smoothed over the run of consecutive frames around it that
  // show them (smooth_keypoint_sequence, with the network's sigma and robust weights).
  Keypoints2D smoothed_in_window(std::size_t at, int id) const {
    const auto find = [&](std::size_t w) -> const Keypoints2D* {
      for (const Person& p : window[w].result.people)
        if (p.id == id && p.keypoints2d) return &*p.keypoints2d;
      return nullptr;
    };
    std::size_t first = at, last = at;
    while (first > 0 && window[first - 1].result.frame == window[first].result.frame - 1 && find(first - 1)) --first;
    while (last + 1 < window.size() && window[last + 1].result.frame == window[last].result.frame + 1 && find(last + 1)) ++last;
    std::vector<Keypoints2D> run;
    for (std::size_t w = first; w <= last; ++w) run.push_back(*find(w));
    const double span = window[last].result.time - window[first].result.time;
    const double dt = last > first && span > 0 ? span / double(last - first) : 1.0 / 30.0;
    smooth_keypoint_sequence(run, kMlpSequenceSigmaSeconds / dt, kMlpSequenceOutlierScale);
    return run[at - first];
  }
};

Pipeline::Pipeline(PipelineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Pipeline::~Pipeline() = default;

FrameResult Pipeline::process_photo(const ImageView& image, const std::string& source,
                                    const PinholeCamera<double>& camera) {
  return impl_->finish(impl_->detect(image, source, 0, 0.0, camera, false), false);
}

FrameResult Pipeline::process_video_frame(const ImageView& frame, const std::string& source, int index, double time,
                                          const PinholeCamera<double>& camera) {
  Impl::Detected d = impl_->detect(frame, source, index, time, camera, true);
  if (impl_->options.smooth)
    for (Person& person : d.result.people) impl_->smoother.smooth(person.id, *person.keypoints2d, time);
  return impl_->finish(std::move(d), true);
}

void Pipeline::push_video_frame(const ImageView& frame, const std::string& source, int index, double time,
                                const PinholeCamera<double>& camera) {
  if (!impl_->window.empty() && !(time > impl_->window.back().result.time))
    throw Error("push_video_frame: frame times must increase");
  impl_->window.push_back(impl_->detect(frame, source, index, time, camera, true));
}

std::optional<FrameResult> Pipeline::pop_video_frame(bool end_of_video) {
  Impl& m = *impl_;
  if (m.next >= m.window.size()) return std::nullopt;
  const double reach_s = 3.0 * kMlpSequenceSigmaSeconds;  // the smoothing kernel's extent
  // (A microsecond's slack: 2.3 - 2.0 is a little under 0.3 in floating point.)
  if (!end_of_video && m.window.back().result.time < m.window[m.next].result.time + reach_s - 1e-6) return std::nullopt;
  // Smoothed from the raw keypoints of the frames around it (the window keeps them raw), then lifted and fitted.
  // The people are copied (the window keeps their raw keypoints for the next frames' smoothing); the people's
  // silhouettes and the detector's heatmaps are moved out, as nothing later needs them.
  Impl::Detected& held = m.window[m.next];
  Impl::Detected d{held.result, std::move(held.poses), std::move(held.masks), held.width, held.height};
  if (m.options.smooth)
    for (Person& person : d.result.people)
      if (person.keypoints2d) *person.keypoints2d = m.smoothed_in_window(m.next, person.id);
  FrameResult out = m.finish(std::move(d), true);
  ++m.next;
  // Finished frames older than the kernel's reach are no longer needed.
  while (m.next > 0 && m.window.front().result.time < m.window[m.next - 1].result.time - reach_s - 1e-6) {
    m.window.pop_front();
    --m.next;
  }
  return out;
}

void Pipeline::reset() {
  impl_->detector.reset();
  if (impl_->track_fitter) impl_->track_fitter->reset();
  impl_->smoother.reset();
  impl_->window.clear();
  impl_->next = 0;
}

const BodyModel* Pipeline::body_model() const { return impl_->model ? &*impl_->model : nullptr; }
const PipelineTimings& Pipeline::timings() const { return impl_->timings; }
const PipelineOptions& Pipeline::options() const { return impl_->options; }

}  // namespace monobody
