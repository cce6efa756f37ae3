// Reading and writing images and video frames (through OpenCV), as monobody::Image (RGB8).
#pragma once

#include <filesystem>
#include <memory>

#include "monobody/image.hpp"

namespace monobody {

// Throws monobody::Error when the file is missing or is not a decodable image.
Image read_image(const std::filesystem::path& path);
// PNG or JPEG by extension; written atomically. Throws monobody::Error on failure.
void write_image(const std::filesystem::path& path, const ImageView& image);

bool is_image_path(const std::filesystem::path& path);
bool is_video_path(const std::filesystem::path& path);

// Sequential video decoding. Throws monobody::Error if the file cannot be opened or decoded.
class VideoReader {
 public:
  explicit VideoReader(const std::filesystem::path& path);
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  // Decodes the next frame into `frame` (reusing its storage); false at the end of the video.
  bool read(Image& frame);
  double fps() const;
  // Frame count from the container (may be an estimate, or 0 when unknown).
  int frame_count() const;
  int width() const;
  int height() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace monobody
