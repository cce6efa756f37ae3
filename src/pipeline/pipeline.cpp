#include "monobody/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
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
  void fit(Person& person, const Pose& pose, const PinholeCamera<double>& camera, int width, int height,
           bool video, int frame) const {
    BodyFitInput input;
    input.camera = camera;
    input.keypoints = &*person.keypoints2d;
    if (person.joints3d) input.joints3d = &*person.joints3d;
    std::vector<std::uint8_t> mask;
    if (options.silhouette && !pose.mask.empty() && pose.mask.width == width && pose.mask.height == height) {
      mask.resize(pose.mask.values.size());
      for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = pose.mask.values[i] > 0.5f ? 255 : 0;
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

  FrameResult process(const ImageView& image, const std::string& source, int index, double time,
                      const PinholeCamera<double>& camera, bool video) {
    FrameResult result;
    result.source = source;
    result.frame = index;
    result.time = time;
    result.image_width = image.width;
    result.image_height = image.height;
    result.camera = camera;

    auto t0 = Clock::now();
    const std::vector<Pose> poses = video ? detector.detect_video(image, time) : detector.detect(image);
    timings.detect += seconds_since(t0);
    ++timings.frames;
    timings.people += int(poses.size());

    t0 = Clock::now();
    for (const Pose& pose : poses) {
      Person person = to_person(pose);
      person.extras.erase("roi");  // the detector's internals: in `monobody detect`'s output, not here
      if (video && options.smooth) smoother.smooth(pose.id, *person.keypoints2d, time);
      lift(person, pose, camera);
      result.people.push_back(std::move(person));
    }
    timings.lift += seconds_since(t0);

    if (fitter) {
      t0 = Clock::now();
      // People are independent: fit them on separate threads when there are threads to spare.
      const auto fit_one = [&](std::size_t i) {
        fit(result.people[i], poses[i], camera, image.width, image.height, video, index);
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
    return result;
  }
};

Pipeline::Pipeline(PipelineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Pipeline::~Pipeline() = default;

FrameResult Pipeline::process_photo(const ImageView& image, const std::string& source,
                                    const PinholeCamera<double>& camera) {
  return impl_->process(image, source, 0, 0.0, camera, false);
}

FrameResult Pipeline::process_video_frame(const ImageView& frame, const std::string& source, int index, double time,
                                          const PinholeCamera<double>& camera) {
  return impl_->process(frame, source, index, time, camera, true);
}

void Pipeline::reset() {
  impl_->detector.reset();
  if (impl_->track_fitter) impl_->track_fitter->reset();
  impl_->smoother.reset();
}

const BodyModel* Pipeline::body_model() const { return impl_->model ? &*impl_->model : nullptr; }
const PipelineTimings& Pipeline::timings() const { return impl_->timings; }
const PipelineOptions& Pipeline::options() const { return impl_->options; }

}  // namespace monobody
