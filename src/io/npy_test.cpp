#include "monobody/npy.hpp"

#include <gtest/gtest.h>

#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

TEST(Npy, ReadsHuman36mPosesAndFrames) {
  MONOBODY_SHARED_FILE_OR_SKIP(poses, "h36m/S1/Directions.pos3d_world.npy");
  MONOBODY_SHARED_FILE_OR_SKIP(frames, "h36m/S1/Directions.frames.npy");
  const auto p = read_npy<float>(poses);
  ASSERT_EQ(p.shape.size(), 3u);
  EXPECT_EQ(p.shape[1], 17);
  EXPECT_EQ(p.shape[2], 3);
  EXPECT_EQ(p.size(), p.shape[0] * 17 * 3);
  // World millimetres, z up: the pelvis of a standing person is about a metre above the floor.
  EXPECT_GT(p.at({0, 0, 2}), 700.0f);
  EXPECT_LT(p.at({0, 0, 2}), 1200.0f);
  const auto f = read_npy<std::int32_t>(frames);
  ASSERT_EQ(f.shape.size(), 1u);
  EXPECT_EQ(f.shape[0], p.shape[0]);
  EXPECT_EQ(f.data[0], 0);
  EXPECT_EQ(f.data[1], 5);  // every 5th frame of the 50 Hz capture
}

TEST(Npy, WriteReadRoundTrip) {
  const auto dir = test::temp_dir("npy");
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 4.0f, 5.0f, 6.0f};
  write_npy(dir / "a.npy", {2, 3}, values.data());
  const auto a = read_npy<float>(dir / "a.npy");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a.data, values);
  EXPECT_EQ(a.at({1, 2}), 6.0f);
  const std::vector<std::int32_t> ints = {7, 8, 9};
  write_npy(dir / "b.npy", {3}, ints.data());
  const auto b = read_npy<double>(dir / "b.npy");  // converted on read
  EXPECT_EQ(b.shape, (std::vector<std::int64_t>{3}));
  EXPECT_EQ(b.data[2], 9.0);
  // The header is what NumPy writes: 64-byte aligned data.
  EXPECT_EQ(read_text_file(dir / "a.npy").size(), 128u + 6 * 4);
}

TEST(Npy, RejectsBadFiles) {
  const auto dir = test::temp_dir("npy_bad");
  write_file_atomic(dir / "text.npy", "hello, not numpy");
  EXPECT_THROW(read_npy<float>(dir / "text.npy"), Error);
  const std::vector<float> values(100, 1.0f);
  write_npy(dir / "full.npy", {10, 10}, values.data());
  const std::string bytes = read_text_file(dir / "full.npy");
  write_file_atomic(dir / "cut.npy", bytes.substr(0, bytes.size() - 8));
  try {
    read_npy<float>(dir / "cut.npy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  std::string fortran = bytes;
  fortran.replace(fortran.find("False"), 5, "True ");
  write_file_atomic(dir / "fortran.npy", fortran);
  EXPECT_THROW(read_npy<float>(dir / "fortran.npy"), Error);
  // A negative dimension was read as its digits: (-10, 10) as (10, 10).
  std::string negative = bytes;
  negative.replace(negative.find("(10, 10)"), 8, "(-10,10)");
  write_file_atomic(dir / "negative.npy", negative);
  try {
    read_npy<float>(dir / "negative.npy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-negative whole numbers"), std::string::npos) << e.what();
  }
  // Python 2's numpy wrote (10L, 10L): (10L,10) is the same shape, still read; an L that follows no digit is not.
  std::string python2 = bytes;
  python2.replace(python2.find("(10, 10)"), 8, "(10L,10)");
  write_file_atomic(dir / "python2.npy", python2);
  const NpyArray<float> read_back = read_npy<float>(dir / "python2.npy");
  EXPECT_EQ(read_back.shape, (std::vector<std::int64_t>{10, 10}));
  std::string stray = bytes;
  stray.replace(stray.find("(10, 10)"), 8, "(L, 100)");
  write_file_atomic(dir / "stray.npy", stray);
  EXPECT_THROW(read_npy<float>(dir / "stray.npy"), Error);
}

}  // namespace
}  // namespace monobody
