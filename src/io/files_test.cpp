#include "monobody/files.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "monobody/error.hpp"
#include "test_support.hpp"

namespace monobody {
namespace {
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Files, ReadsGzipTransparently) {
  const fs::path dir = test::temp_dir("gzip");
  const std::string text = "line one\nline two\n" + std::string(100000, 'x');
  gzFile gz = gzopen((dir / "a.txt.gz").c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, text.data(), unsigned(text.size())), int(text.size()));
  gzclose(gz);
  write_file_atomic(dir / "b.txt", text);
  EXPECT_EQ(read_text_file(dir / "a.txt.gz"), text);
  EXPECT_EQ(read_text_file(dir / "b.txt"), text);

  // A truncated gzip stream is an error, not a short read.
  const std::string gz_bytes = slurp(dir / "a.txt.gz");
  write_file_atomic(dir / "cut.gz", gz_bytes.substr(0, gz_bytes.size() / 2));
  EXPECT_THROW(read_text_file(dir / "cut.gz"), Error);
}

TEST(Files, ReadsTheSharedGzipData) {
  MONOBODY_SHARED_FILE_OR_SKIP(bvh, "mocap/cmu/asf_amc/07_01.amc.gz");
  const std::string text = read_text_file(bvh);
  EXPECT_NE(text.find(":DEGREES"), std::string::npos) << text.substr(0, 80);
  EXPECT_GT(text.size(), 100000u);  // the whole walk, not a gzip header
}

TEST(Files, MissingFileAndMalformedJsonGiveClearErrors) {
  const fs::path dir = test::temp_dir("json");
  try {
    read_text_file(dir / "nope.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos) << e.what();
  }
  write_file_atomic(dir / "bad.json", "{\"a\": [1, 2,\n  }");
  try {
    read_json_file(dir / "bad.json");
    FAIL();
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("malformed JSON"), std::string::npos) << what;
    EXPECT_NE(what.find("line 2"), std::string::npos) << what;
  }
  EXPECT_EQ(read_json_file(test::source_dir() / "models" / "models.json").is_object(), true);
  // Pathological nesting is refused while parsing (300,000 levels crashed the recursive code that walks the
  // document afterwards); 256 levels are allowed.
  write_file_atomic(dir / "deep.json", std::string(300000, '[') + std::string(300000, ']'));
  try {
    read_json_file(dir / "deep.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than 256 levels"), std::string::npos) << e.what();
  }
  write_file_atomic(dir / "deep.json", std::string(256, '[') + std::string(256, ']'));
  EXPECT_TRUE(read_json_file(dir / "deep.json").is_array());
}

TEST(Files, AtomicWriteNeverLeavesAHalfWrittenFile) {
  const fs::path dir = test::temp_dir("atomic");
  const fs::path out = dir / "result.json";
  write_file_atomic(out, "good");
  // A writer that fails midway leaves the old content and no temporary files.
  EXPECT_THROW(write_file_atomic(out,
                                 [](const fs::path& tmp) {
                                   std::ofstream(tmp) << "half";
                                   throw Error("encoder failed");
                                 }),
               Error);
  EXPECT_EQ(slurp(out), "good");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  // A link to a file: the file is replaced and the link kept. A device is written in place, not replaced by a
  // file (monobody ... -o /dev/null, run as root, would otherwise replace /dev/null).
  fs::create_symlink(out, dir / "link.json");
  write_file_atomic(dir / "link.json", "through the link");
  EXPECT_TRUE(fs::is_symlink(dir / "link.json"));
  EXPECT_EQ(slurp(out), "through the link");
  if (fs::exists("/dev/null")) {
    write_file_atomic("/dev/null", "nothing");
    EXPECT_TRUE(fs::is_character_file("/dev/null"));
  }
  // A missing folder is reported with its name.
  try {
    write_file_atomic(dir / "missing" / "x.json", "data");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace monobody
