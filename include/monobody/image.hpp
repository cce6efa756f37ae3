// RGB8 images. `Image` owns its pixels; `ImageView` borrows them (the owner must outlive the view).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace monobody {

// A non-owning view of interleaved RGB8 pixels, rows `stride` bytes apart (stride >= 3 * width).
struct ImageView {
  const std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  std::ptrdiff_t stride = 0;

  bool empty() const { return data == nullptr || width <= 0 || height <= 0; }
  const std::uint8_t* row(int y) const { return data + y * stride; }
};

// An owning, tightly packed RGB8 image (stride == 3 * width).
class Image {
 public:
  Image() = default;
  Image(int width, int height) : width_(width), height_(height), pixels_(std::size_t(width) * height * 3, 0) {}

  int width() const { return width_; }
  int height() const { return height_; }
  bool empty() const { return pixels_.empty(); }
  std::uint8_t* data() { return pixels_.data(); }
  const std::uint8_t* data() const { return pixels_.data(); }
  std::uint8_t* row(int y) { return pixels_.data() + std::size_t(y) * width_ * 3; }
  const std::uint8_t* row(int y) const { return pixels_.data() + std::size_t(y) * width_ * 3; }
  ImageView view() const { return {pixels_.data(), width_, height_, std::ptrdiff_t(width_) * 3}; }

 private:
  int width_ = 0;
  int height_ = 0;
  std::vector<std::uint8_t> pixels_;
};

}  // namespace monobody
