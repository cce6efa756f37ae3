#include "monobody/image_io.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "monobody/error.hpp"
#include "monobody/files.hpp"

namespace monobody {
namespace fs = std::filesystem;

namespace {

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext;
}

void bgr_to_image(const cv::Mat& bgr, Image& out) {
  if (out.width() != bgr.cols || out.height() != bgr.rows) out = Image(bgr.cols, bgr.rows);
  cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, out.data());
  if (bgr.channels() == 1) cv::cvtColor(bgr, rgb, cv::COLOR_GRAY2RGB);
  else if (bgr.channels() == 4) cv::cvtColor(bgr, rgb, cv::COLOR_BGRA2RGB);
  else cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
}

}  // namespace

bool is_image_path(const fs::path& path) {
  static const char* exts[] = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"};
  const std::string ext = lower_extension(path);
  return std::any_of(std::begin(exts), std::end(exts), [&](const char* e) { return ext == e; });
}

bool is_video_path(const fs::path& path) {
  static const char* exts[] = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"};
  const std::string ext = lower_extension(path);
  return std::any_of(std::begin(exts), std::end(exts), [&](const char* e) { return ext == e; });
}

Image read_image(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("cannot read image '" + path.string() + "': no such file");
  if (fs::is_directory(path, ec)) throw Error("cannot read image '" + path.string() + "': it is a directory");
  cv::Mat bgr;
  try {
    bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    bgr.release();
  }
  if (bgr.empty()) throw Error("cannot read image '" + path.string() + "': not a readable image file");
  Image image;
  bgr_to_image(bgr, image);
  return image;
}

void write_image(const fs::path& path, const ImageView& image) {
  if (image.empty()) throw Error("cannot write image '" + path.string() + "': the image is empty");
  const std::string ext = lower_extension(path);
  if (ext != ".png" && ext != ".jpg" && ext != ".jpeg")
    throw Error("cannot write image '" + path.string() + "': use a .png or .jpg file name");
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.data), std::size_t(image.stride));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  write_file_atomic(path, [&](const fs::path& tmp) {
    // OpenCV picks the encoder from the extension, so encode in memory and write the bytes.
    std::vector<uchar> bytes;
    if (!cv::imencode(ext, bgr, bytes)) throw Error("cannot encode image '" + path.string() + "'");
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw Error("cannot write image '" + path.string() + "': " + std::strerror(errno));
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (std::fclose(f) != 0 || !ok) throw Error("cannot write image '" + path.string() + "': write failed");
  });
}

struct VideoReader::Impl {
  cv::VideoCapture capture;
  cv::Mat bgr;
  fs::path path;
  int frames_read = 0;
};

VideoReader::VideoReader(const fs::path& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("cannot open video '" + path.string() + "': no such file");
  // FFmpeg only: it reads every common container, and probing OpenCV's other back-ends (GStreamer, FireWire
  // cameras) costs time and leaks memory inside those libraries.
  if (!impl_->capture.open(path.string(), cv::CAP_FFMPEG) || !impl_->capture.isOpened())
    throw Error("cannot open video '" + path.string() + "': not a decodable video");
}

VideoReader::~VideoReader() = default;

bool VideoReader::read(Image& frame) {
  if (!impl_->capture.read(impl_->bgr) || impl_->bgr.empty()) {
    if (impl_->frames_read == 0) throw Error("cannot decode video '" + impl_->path.string() + "': no frames");
    return false;
  }
  bgr_to_image(impl_->bgr, frame);
  ++impl_->frames_read;
  return true;
}

double VideoReader::fps() const {
  const double fps = impl_->capture.get(cv::CAP_PROP_FPS);
  return fps > 0 && fps < 1000 ? fps : 30.0;
}
int VideoReader::frame_count() const { return std::max(0, int(impl_->capture.get(cv::CAP_PROP_FRAME_COUNT))); }
int VideoReader::width() const { return int(impl_->capture.get(cv::CAP_PROP_FRAME_WIDTH)); }
int VideoReader::height() const { return int(impl_->capture.get(cv::CAP_PROP_FRAME_HEIGHT)); }

}  // namespace monobody
