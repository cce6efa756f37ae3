#include <gtest/gtest.h>
#include <libexif/exif-data.h>

#include <cstdlib>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "monobody/error.hpp"
#include "monobody/pipeline.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {

namespace fs = std::filesystem;

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// A JPEG as a phone writes it: an APP1 segment with EXIF data right after the start-of-image marker.
void write_jpeg_with_focal_35mm(const fs::path& path, int width, int height, unsigned short focal_35mm) {
  std::vector<unsigned char> jpeg;
  cv::imencode(".jpg", cv::Mat(height, width, CV_8UC3, cv::Scalar(90, 120, 150)), jpeg);
  ExifData* data = exif_data_new();
  exif_data_set_byte_order(data, EXIF_BYTE_ORDER_INTEL);
  ExifEntry* entry = exif_entry_new();
  exif_content_add_entry(data->ifd[EXIF_IFD_EXIF], entry);
  exif_entry_initialize(entry, EXIF_TAG_FOCAL_LENGTH_IN_35MM_FILM);
  exif_set_short(entry->data, EXIF_BYTE_ORDER_INTEL, focal_35mm);
  exif_entry_unref(entry);
  unsigned char* exif = nullptr;
  unsigned int size = 0;
  exif_data_save_data(data, &exif, &size);
  exif_data_unref(data);
  ASSERT_NE(exif, nullptr);
  const unsigned length = size + 2;
  std::vector<unsigned char> out(jpeg.begin(), jpeg.begin() + 2);  // FF D8
  out.insert(out.end(), {0xFF, 0xE1, (unsigned char)(length >> 8), (unsigned char)(length & 0xFF)});
  out.insert(out.end(), exif, exif + size);
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  std::free(exif);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
}

TEST(PictureCamera, FocalLengthFromExif) {
  const fs::path dir = test::temp_dir("exif");
  write_jpeg_with_focal_35mm(dir / "phone.jpg", 400, 300, 28);
  ASSERT_TRUE(cv::imread((dir / "phone.jpg").string()).data) << "the test JPEG must stay decodable";
  // 28 mm on a 36 mm wide frame, over the longer side of 400 px.
  const auto f = exif_focal_px(dir / "phone.jpg", 400, 300);
  ASSERT_TRUE(f.has_value());
  EXPECT_NEAR(*f, 28.0 / 36.0 * 400.0, 1e-9);
  std::string how;
  const PinholeCamera<double> c = picture_camera(dir / "phone.jpg", 400, 300, std::nullopt, 0.0, &how);
  EXPECT_NEAR(c.fx, 311.111, 1e-3);
  EXPECT_EQ(c.cx, 199.5);  // the centre of a 400 px row in OpenCV's pixel convention
  EXPECT_EQ(how, "EXIF focal length");
  // The user's focal length wins over EXIF.
  EXPECT_EQ(picture_camera(dir / "phone.jpg", 400, 300, std::nullopt, 1000.0).fx, 1000.0);
}

TEST(PictureCamera, WithoutExifTheDefaultIsTheDiagonal) {
  const fs::path dir = test::temp_dir("noexif");
  cv::imwrite((dir / "plain.jpg").string(), cv::Mat(300, 400, CV_8UC3, cv::Scalar(0, 0, 0)));
  EXPECT_FALSE(exif_focal_px(dir / "plain.jpg", 400, 300).has_value());
  EXPECT_FALSE(exif_focal_px(dir / "missing.jpg", 400, 300).has_value());
  EXPECT_NEAR(picture_camera(dir / "plain.jpg", 400, 300, std::nullopt, 0.0).fx, 500.0, 1e-9);
}

TEST(PictureCamera, ReadsBothJsonForms) {
  const fs::path dir = test::temp_dir("camjson");
  write_text(dir / "a.json", R"({"fx": 1000, "fy": 1001, "cx": 320, "cy": 240, "distortion": [0.1, -0.2, 0, 0, 0.01]})");
  PinholeCamera<double> a = read_camera_json(dir / "a.json");
  EXPECT_EQ(a.fy, 1001);
  EXPECT_EQ(a.distortion.k3, 0.01);
  write_text(dir / "b.json", R"({"K": [[900, 0, 300], [0, 905, 200], [0, 0, 1]], "dist": [[0.1, 0.0, 0.001, 0.002]]})");
  PinholeCamera<double> b = read_camera_json(dir / "b.json");
  EXPECT_EQ(b.fx, 900);
  EXPECT_EQ(b.cy, 200);
  EXPECT_EQ(b.distortion.p2, 0.002);
  EXPECT_EQ(b.distortion.k3, 0.0);
}

TEST(PictureCamera, BadCameraFilesAreClearErrors) {
  const fs::path dir = test::temp_dir("badcam");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"fx": 1000, "cx": 320, "cy": 240})", "missing \"fy\""},
      {R"({"fx": -1, "fy": 1, "cx": 320, "cy": 240})", "within 1 to 1e7 pixels"},
      {R"({"fx": 1e-300, "fy": 1e-300, "cx": 320, "cy": 240})", "within 1 to 1e7 pixels"},
      {R"({"fx": 1000, "fy": 1000, "cx": 1e300, "cy": 240})", "principal point"},
      {R"({"K": [[1, 0], [0, 1]]})", "3 x 3"},
      {R"({"f": 3})", "expected"},
      {R"({"fx": "a", "fy": 1, "cx": 0, "cy": 0})", "fx must be a number"},
      {R"({"fx": 1, "fy": 1, "cx": 0, "cy": 0, "distortion": [0.1, 0.2, 0.0, 0.0, 0.0, 0.3]})", "k1, k2, p1, p2, k3"},
  };
  for (const auto& [text, expected] : cases) {
    write_text(dir / "c.json", text);
    try {
      read_camera_json(dir / "c.json");
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace monobody
