#include "monobody/result.hpp"

#include <cmath>
#include <cstdint>

#include "monobody/error.hpp"
#include "monobody/files.hpp"

namespace monobody {
using nlohmann::json;

namespace {

// Bounds of plausible values: beyond them a number is corrupt, and the stages would only compute garbage from it.
constexpr double kMaxCoordinate = 1e7;  // pixels or metres
constexpr int kMaxImageSide = 100000;

json matrix_points(const Eigen::MatrixXd& points, const Eigen::VectorXd& confidence) {
  json out = json::array();
  for (int j = 0; j < points.cols(); ++j) {
    json p = json::array();
    for (int d = 0; d < points.rows(); ++d) p.push_back(points(d, j));
    p.push_back(confidence[j]);
    out.push_back(std::move(p));
  }
  return out;
}

json vector_json(const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

// Reads JSON with the location of each value, so errors say where the problem is.
class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw Error("invalid monobody result: " + (path_.empty() ? std::string("top level") : path_) + ": " + why);
  }
  const json& value() const { return j_; }
  bool has(const char* key) const { return j_.is_object() && j_.contains(key) && !j_.at(key).is_null(); }

  Reader at(const char* key) const {
    if (!j_.is_object()) fail("expected an object");
    if (!j_.contains(key)) fail(std::string("missing field '") + key + "'");
    return Reader(j_.at(key), path_.empty() ? key : path_ + "." + key);
  }
  Reader at(std::size_t i) const { return Reader(j_.at(i), path_ + "[" + std::to_string(i) + "]"); }
  std::size_t array_size() const {
    if (!j_.is_array()) fail("expected an array");
    return j_.size();
  }
  double number() const {
    if (!j_.is_number()) fail("expected a number");
    const double v = j_.get<double>();
    if (!std::isfinite(v)) fail("expected a finite number");
    return v;
  }
  int integer() const {
    if (!j_.is_number_integer()) fail("expected an integer");
    // Within +-1e9: a result's integers are counts and frame numbers, and frame +- 1 must not overflow.
    constexpr std::int64_t kLimit = 1000000000;
    const bool in_range = j_.is_number_unsigned() ? j_.get<std::uint64_t>() <= std::uint64_t(kLimit)
                                                  : j_.get<std::int64_t>() >= -kLimit && j_.get<std::int64_t>() <= kLimit;
    if (!in_range) fail("expected an integer within +-1e9");
    return j_.get<int>();
  }
  std::string string() const {
    if (!j_.is_string()) fail("expected a string");
    return j_.get<std::string>();
  }
  Eigen::VectorXd vector(int expected = -1) const {
    const std::size_t n = array_size();
    if (expected >= 0 && int(n) != expected) fail("expected " + std::to_string(expected) + " numbers, got " + std::to_string(n));
    Eigen::VectorXd v(n);
    for (std::size_t i = 0; i < n; ++i) v[Eigen::Index(i)] = at(i).number();
    return v;
  }

 private:
  const json& j_;
  std::string path_;
};

JointSet read_joint_set(const Reader& r) {
  try {
    return parse_joint_set(r.at("joint_set").string());
  } catch (const Error& e) {
    r.at("joint_set").fail(e.what());
  }
}

// Reads "points": [[c0, .., c_{D-1}, confidence], ...] into a D x J matrix.
void read_points(const Reader& r, int dims, JointSet set, Eigen::MatrixXd& points, Eigen::VectorXd& confidence) {
  const Reader pts = r.at("points");
  const int n = skeleton(set).size();
  if (int(pts.array_size()) != n)
    pts.fail(std::string(to_string(set)) + " has " + std::to_string(n) + " joints, got " +
             std::to_string(pts.array_size()));
  points.resize(dims, n);
  confidence.resize(n);
  for (int j = 0; j < n; ++j) {
    const Eigen::VectorXd p = pts.at(j).vector(dims + 1);
    points.col(j) = p.head(dims);
    confidence[j] = p[dims];
    if (confidence[j] < 0 || confidence[j] > 1) pts.at(j).fail("confidence must be in [0, 1]");
    if (points.col(j).cwiseAbs().maxCoeff() > kMaxCoordinate)
      pts.at(j).fail("a coordinate beyond 1e7 (pixels or metres) is not a place in a picture or a room");
  }
}

Person read_person(const Reader& r) {
  Person p;
  p.id = r.at("id").integer();
  if (r.has("score")) p.score = r.at("score").number();
  if (r.has("bbox")) p.bbox = r.at("bbox").vector(4);
  if (r.has("keypoints2d")) {
    const Reader k = r.at("keypoints2d");
    Keypoints2D kp;
    kp.joint_set = read_joint_set(k);
    Eigen::MatrixXd xy;
    read_points(k, 2, kp.joint_set, xy, kp.confidence);
    kp.xy = xy;
    if (k.has("depth")) kp.depth = k.at("depth").vector(kp.size());
    p.keypoints2d = std::move(kp);
  }
  if (r.has("joints3d")) {
    const Reader k = r.at("joints3d");
    Joints3D j3;
    j3.joint_set = read_joint_set(k);
    Eigen::MatrixXd xyz;
    read_points(k, 3, j3.joint_set, xyz, j3.confidence);
    j3.xyz = xyz;
    p.joints3d = std::move(j3);
  }
  if (r.has("body")) {
    const Reader b = r.at("body");
    BodyParameters body;
    body.model = b.at("model").string();
    body.shape = b.at("shape").vector();
    body.pose = b.at("pose").vector();
    if (body.pose.size() % 3 != 0) b.at("pose").fail("expected 3 numbers (axis-angle) per joint");
    if (body.pose.size() > 0 && body.pose.cwiseAbs().maxCoeff() > 1e3) b.at("pose").fail("a rotation beyond 1000 radians");
    if (body.shape.size() > 0 && body.shape.cwiseAbs().maxCoeff() > 1e3) b.at("shape").fail("a shape coefficient beyond 1000");
    body.global_orient = b.at("global_orient").vector(3);
    body.translation = b.at("translation").vector(3);
    if (body.global_orient.cwiseAbs().maxCoeff() > 1e3) b.at("global_orient").fail("a rotation beyond 1000 radians");
    if (body.translation.cwiseAbs().maxCoeff() > kMaxCoordinate) b.at("translation").fail("a place beyond 1e7 metres");
    p.body = std::move(body);
  }
  if (r.has("extras")) {
    if (!r.at("extras").value().is_object()) r.at("extras").fail("expected an object");
    p.extras = r.at("extras").value();
  }
  return p;
}

}  // namespace

json to_json(const Result& result) {
  json frames = json::array();
  for (const auto& f : result.frames) {
    json jf = {{"source", f.source}, {"frame", f.frame}, {"time", f.time},
               {"image_size", {f.image_width, f.image_height}}};
    if (f.camera) {
      const auto& c = *f.camera;
      jf["camera"] = {{"fx", c.fx}, {"fy", c.fy}, {"cx", c.cx}, {"cy", c.cy},
                      {"distortion", {c.distortion.k1, c.distortion.k2, c.distortion.p1, c.distortion.p2, c.distortion.k3}}};
    }
    json people = json::array();
    for (const auto& p : f.people) {
      json jp = {{"id", p.id}, {"score", p.score}, {"bbox", vector_json(p.bbox)}};
      if (p.keypoints2d) {
        const auto& k = *p.keypoints2d;
        jp["keypoints2d"] = {{"joint_set", to_string(k.joint_set)}, {"points", matrix_points(k.xy, k.confidence)}};
        if (k.depth.size() > 0) jp["keypoints2d"]["depth"] = vector_json(k.depth);
      }
      if (p.joints3d) {
        const auto& k = *p.joints3d;
        jp["joints3d"] = {{"joint_set", to_string(k.joint_set)}, {"frame", "camera"}, {"units", "m"},
                          {"points", matrix_points(k.xyz, k.confidence)}};
      }
      if (p.body) {
        const auto& b = *p.body;
        jp["body"] = {{"model", b.model}, {"shape", vector_json(b.shape)}, {"pose", vector_json(b.pose)},
                      {"global_orient", vector_json(b.global_orient)}, {"translation", vector_json(b.translation)}};
      }
      if (!p.extras.empty()) jp["extras"] = p.extras;
      people.push_back(std::move(jp));
    }
    jf["people"] = std::move(people);
    frames.push_back(std::move(jf));
  }
  return {{"schema", kResultSchema}, {"version", kResultVersion}, {"generator", result.generator}, {"frames", frames}};
}

Result result_from_json(const json& j) {
  const Reader root(j, "");
  if (!j.is_object()) root.fail("expected a JSON object");
  if (root.at("schema").string() != kResultSchema)
    root.at("schema").fail(std::string("expected \"") + kResultSchema + "\"");
  const int version = root.at("version").integer();
  if (version != kResultVersion)
    root.at("version").fail("unsupported version " + std::to_string(version) + " (this build reads version " +
                            std::to_string(kResultVersion) + ")");
  Result result;
  if (root.has("generator")) result.generator = root.at("generator").string();
  const Reader frames = root.at("frames");
  for (std::size_t i = 0; i < frames.array_size(); ++i) {
    const Reader fr = frames.at(i);
    FrameResult f;
    f.source = fr.has("source") ? fr.at("source").string() : "";
    f.frame = fr.has("frame") ? fr.at("frame").integer() : 0;
    if (f.frame < 0) fr.at("frame").fail("a frame number is 0 or more");
    f.time = fr.has("time") ? fr.at("time").number() : 0.0;
    if (fr.has("image_size")) {
      const Eigen::VectorXd size = fr.at("image_size").vector(2);
      if (size.minCoeff() < 0 || size.maxCoeff() > kMaxImageSide)
        fr.at("image_size").fail("image sides must be within 0 to " + std::to_string(kMaxImageSide) + " pixels");
      f.image_width = int(size[0]);
      f.image_height = int(size[1]);
    }
    if (fr.has("camera")) {
      const Reader c = fr.at("camera");
      PinholeCamera<double> cam;
      cam.fx = c.at("fx").number();
      cam.fy = c.at("fy").number();
      cam.cx = c.at("cx").number();
      cam.cy = c.at("cy").number();
      if (!(cam.fx >= 1 && cam.fy >= 1 && cam.fx <= kMaxCoordinate && cam.fy <= kMaxCoordinate))
        c.fail("focal lengths must be within 1 to 1e7 pixels");
      if (std::abs(cam.cx) > kMaxCoordinate || std::abs(cam.cy) > kMaxCoordinate) c.fail("a principal point beyond 1e7 pixels");
      if (c.has("distortion")) {
        const Eigen::VectorXd d = c.at("distortion").vector(5);
        cam.distortion = {d[0], d[1], d[2], d[3], d[4]};
      }
      f.camera = cam;
    }
    const Reader people = fr.at("people");
    for (std::size_t k = 0; k < people.array_size(); ++k) f.people.push_back(read_person(people.at(k)));
    result.frames.push_back(std::move(f));
  }
  return result;
}

Result read_result(const std::filesystem::path& path) {
  const json j = read_json_file(path);
  try {
    return result_from_json(j);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
}

void write_result(const std::filesystem::path& path, const Result& result) {
  write_file_atomic(path, to_json(result).dump(1) + "\n");
}

double result_frame_rate(const Result& result) {
  const auto& f = result.frames;
  const double span = f.size() < 2 ? 0.0 : f.back().time - f.front().time;
  return span > 0 ? double(f.size() - 1) / span : 30.0;
}

double video_frame_rate(const Result& result) {
  const auto& f = result.frames;
  const double span = f.size() < 2 ? 0.0 : f.back().time - f.front().time;
  const int frames = f.size() < 2 ? 0 : f.back().frame - f.front().frame;
  return span > 0 && frames > 0 ? double(frames) / span : 30.0;
}

}  // namespace monobody
