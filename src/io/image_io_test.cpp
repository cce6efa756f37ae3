#include "monobody/image_io.hpp"

#include <gtest/gtest.h>

#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

TEST(ImageIo, ReadsTheDemoPhotoAsRgb) {
  MONOBODY_DEMO_FILE_OR_SKIP(path, "messi5.jpg");
  const Image image = read_image(path);
  EXPECT_EQ(image.width(), 548);
  EXPECT_EQ(image.height(), 342);
  // The pitch is green: in RGB order the middle channel dominates at the bottom-left.
  const std::uint8_t* px = image.row(330) + 3 * 20;
  EXPECT_GT(px[1], px[0]);
  EXPECT_GT(px[1], px[2]);
}

TEST(ImageIo, PngRoundTripIsLossless) {
  const auto dir = test::temp_dir("image_io");
  Image image(31, 17);
  for (int y = 0; y < 17; ++y)
    for (int x = 0; x < 31; ++x) {
      image.row(y)[3 * x + 0] = std::uint8_t(x * 8);
      image.row(y)[3 * x + 1] = std::uint8_t(y * 15);
      image.row(y)[3 * x + 2] = std::uint8_t(x + y);
    }
  write_image(dir / "a.png", image.view());
  const Image back = read_image(dir / "a.png");
  ASSERT_EQ(back.width(), 31);
  ASSERT_EQ(back.height(), 17);
  EXPECT_TRUE(std::equal(image.data(), image.data() + 31 * 17 * 3, back.data()));
  EXPECT_THROW(write_image(dir / "a.gif", image.view()), Error);
}

TEST(ImageIo, BadImagesGiveClearErrors) {
  const auto dir = test::temp_dir("image_bad");
  write_file_atomic(dir / "fake.jpg", "this is text, not a JPEG");
  try {
    read_image(dir / "fake.jpg");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a readable image"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_image(dir / "missing.png"), Error);
  EXPECT_THROW(read_image(dir), Error);
}

TEST(VideoReader, DecodesTheDemoVideo) {
  MONOBODY_DEMO_FILE_OR_SKIP(path, "vtest.avi");
  VideoReader video(path);
  EXPECT_EQ(video.width(), 768);
  EXPECT_EQ(video.height(), 576);
  EXPECT_GT(video.fps(), 5.0);
  Image frame;
  int frames = 0;
  while (frames < 5 && video.read(frame)) ++frames;
  EXPECT_EQ(frames, 5);
  EXPECT_EQ(frame.width(), 768);
  const auto dir = test::temp_dir("video_bad");
  write_file_atomic(dir / "fake.avi", std::string(5000, 'z'));
  EXPECT_THROW(
      {
        VideoReader bad(dir / "fake.avi");
        bad.read(frame);
      },
      Error);
}

}  // namespace
}  // namespace monobody
