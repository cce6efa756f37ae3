#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "monobody/error.hpp"
#include "monobody/export.hpp"

namespace monobody {

std::vector<std::uint8_t> jpeg_bytes(const ImageView& image, int quality, int max_width) {
  if (image.empty()) throw Error("cannot encode an empty image as JPEG");
  // OpenCV wants BGR; the view is RGB.
  const cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.data), std::size_t(image.stride));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  if (max_width > 0 && bgr.cols > max_width) {
    const int height = std::max(1, int(std::lround(double(bgr.rows) * max_width / bgr.cols)));
    cv::Mat smaller;
    cv::resize(bgr, smaller, cv::Size(max_width, height), 0, 0, cv::INTER_AREA);
    bgr = smaller;
  }
  std::vector<std::uint8_t> out;
  if (!cv::imencode(".jpg", bgr, out, {cv::IMWRITE_JPEG_QUALITY, quality})) throw Error("JPEG encoding failed");
  return out;
}

}  // namespace monobody
