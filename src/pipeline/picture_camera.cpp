// Where the camera intrinsics of a picture come from: the user, or the photo's EXIF data, or a default.
#include <fmt/format.h>
#include <libexif/exif-data.h>

#include <cmath>
#include <memory>

#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/pipeline.hpp"

namespace monobody {
namespace {

struct ExifDataDeleter {
  void operator()(ExifData* d) const { exif_data_unref(d); }
};

std::optional<double> rational(ExifData* data, ExifTag tag) {
  ExifEntry* e = exif_data_get_entry(data, tag);
  if (!e || e->components < 1) return std::nullopt;
  const ExifByteOrder order = exif_data_get_byte_order(data);
  if (e->format == EXIF_FORMAT_RATIONAL) {
    const ExifRational r = exif_get_rational(e->data, order);
    if (r.denominator == 0) return std::nullopt;
    return double(r.numerator) / double(r.denominator);
  }
  if (e->format == EXIF_FORMAT_SHORT) return double(exif_get_short(e->data, order));
  if (e->format == EXIF_FORMAT_LONG) return double(exif_get_long(e->data, order));
  return std::nullopt;
}

}  // namespace

std::optional<double> exif_focal_px(const std::filesystem::path& jpeg, int width, int height) {
  const std::unique_ptr<ExifData, ExifDataDeleter> data(exif_data_new_from_file(jpeg.c_str()));
  if (!data) return std::nullopt;
  const double longest = std::max(width, height);
  // The 35 mm equivalent refers to the 36 mm width of a full frame, i.e. to the image's longer side.
  if (auto f35 = rational(data.get(), EXIF_TAG_FOCAL_LENGTH_IN_35MM_FILM); f35 && *f35 > 0)
    return *f35 / 36.0 * longest;
  // Otherwise the focal length in mm and the sensor's pixels per unit (2 = inch, 3 = cm).
  const auto mm = rational(data.get(), EXIF_TAG_FOCAL_LENGTH);
  const auto xres = rational(data.get(), EXIF_TAG_FOCAL_PLANE_X_RESOLUTION);
  if (!mm || !xres || *mm <= 0 || *xres <= 0) return std::nullopt;
  const double unit_mm = rational(data.get(), EXIF_TAG_FOCAL_PLANE_RESOLUTION_UNIT).value_or(2) == 3 ? 10.0 : 25.4;
  // The resolution is for the sensor's full-size image: scale to this one by the pixel dimensions recorded.
  const double recorded_width = rational(data.get(), EXIF_TAG_PIXEL_X_DIMENSION).value_or(width);
  const double f = *mm * *xres / unit_mm * (recorded_width > 0 ? width / recorded_width : 1.0);
  return std::isfinite(f) && f > 0 ? std::optional<double>(f) : std::nullopt;
}

PinholeCamera<double> picture_camera(const std::filesystem::path& picture, int width, int height,
                                     const std::optional<PinholeCamera<double>>& user_camera, double user_focal_px,
                                     std::string* how) {
  auto say = [&](const std::string& s) {
    if (how) *how = s;
  };
  if (user_camera) {
    say("given intrinsics");
    return *user_camera;
  }
  PinholeCamera<double> camera = default_camera(width, height);
  if (user_focal_px > 0) {
    camera.fx = camera.fy = user_focal_px;
    say("given focal length");
    return camera;
  }
  if (auto f = exif_focal_px(picture, width, height)) {
    camera.fx = camera.fy = *f;
    say("EXIF focal length");
    return camera;
  }
  say("default focal length (the image diagonal)");
  return camera;
}

PinholeCamera<double> read_camera_json(const std::filesystem::path& path) {
  const nlohmann::json j = read_json_file(path);
  const auto fail = [&](const std::string& why) -> Error { return Error(fmt::format("'{}': {}", path.string(), why)); };
  auto number = [&](const nlohmann::json& v, const char* what) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) throw fail(std::string(what) + " must be a number");
    return v.get<double>();
  };
  PinholeCamera<double> c;
  std::vector<double> dist;
  if (j.is_object() && j.contains("K")) {
    const auto& K = j.at("K");
    if (!K.is_array() || K.size() != 3 || !K[0].is_array() || K[0].size() != 3 || !K[1].is_array() || K[1].size() != 3)
      throw fail("\"K\" must be a 3 x 3 array");
    c.fx = number(K[0][0], "K[0][0]");
    c.cx = number(K[0][2], "K[0][2]");
    c.fy = number(K[1][1], "K[1][1]");
    c.cy = number(K[1][2], "K[1][2]");
    if (j.contains("dist")) {
      const auto& d = j.at("dist").is_array() && j.at("dist").size() == 1 && j.at("dist")[0].is_array() ? j.at("dist")[0] : j.at("dist");
      if (!d.is_array()) throw fail("\"dist\" must be an array");
      for (const auto& v : d) dist.push_back(number(v, "dist"));
    }
  } else if (j.is_object() && j.contains("fx")) {
    for (const char* key : {"fy", "cx", "cy"})
      if (!j.contains(key)) throw fail(std::string("missing \"") + key + "\"");
    c.fx = number(j.at("fx"), "fx");
    c.fy = number(j.at("fy"), "fy");
    c.cx = number(j.at("cx"), "cx");
    c.cy = number(j.at("cy"), "cy");
    if (j.contains("distortion")) {
      if (!j.at("distortion").is_array()) throw fail("\"distortion\" must be an array");
      for (const auto& v : j.at("distortion")) dist.push_back(number(v, "distortion"));
    }
  } else {
    throw fail("expected {\"fx\", \"fy\", \"cx\", \"cy\"} or {\"K\": 3 x 3}");
  }
  if (!(c.fx >= 1 && c.fy >= 1 && c.fx <= 1e7 && c.fy <= 1e7)) throw fail("focal lengths must be within 1 to 1e7 pixels");
  if (std::abs(c.cx) > 1e7 || std::abs(c.cy) > 1e7) throw fail("the principal point must be within 1e7 pixels");
  if (dist.size() > 5 && std::any_of(dist.begin() + 5, dist.end(), [](double v) { return v != 0; }))
    throw fail("only the distortion k1, k2, p1, p2, k3 is supported");
  if (!dist.empty() && dist.size() != 4 && dist.size() < 5) throw fail("distortion needs 4 or 5 numbers (k1, k2, p1, p2[, k3])");
  dist.resize(std::max<std::size_t>(dist.size(), 5), 0.0);
  c.distortion = {dist[0], dist[1], dist[2], dist[3], dist[4]};
  return c;
}

}  // namespace monobody
