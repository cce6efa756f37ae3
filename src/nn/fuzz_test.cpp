// The model-reader fuzz target driven deterministically in every build (and so under ASan/UBSan in the
// sanitizer build): mutated seed models, then truncated and bit-flipped copies of the real model files.
// Each input must be rejected with monobody::Error or read (and, when small, run) without any other
// exception or sanitizer report. libFuzzer explores further in CI (src/nn/fuzz.sh).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <monobody/error.hpp>
#include <random>

#include "fuzz_seeds.hpp"
#include "graph.hpp"
#include "test_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace monobody::nn {
namespace {

// One random edit of the kinds that break flatbuffers: a byte, a bit, a 32-bit field set to an
// extreme value (offsets, sizes, indices), or a truncation.
void mutate(std::vector<std::uint8_t>& bytes, std::mt19937& rng) {
  if (bytes.empty()) return;
  std::uniform_int_distribution<std::size_t> position(0, bytes.size() - 1);
  switch (rng() % 4) {
    case 0: bytes[position(rng)] = static_cast<std::uint8_t>(rng()); break;
    case 1: bytes[position(rng)] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
    case 2: {
      constexpr std::uint32_t extremes[] = {0, 1, 0xffffffffu, 0x7fffffffu, 0x80000000u, 0xffffu, 255, 4, 8};
      const std::uint32_t v = extremes[rng() % std::size(extremes)];
      const std::size_t at = position(rng) & ~std::size_t{3};
      for (std::size_t k = 0; k < 4 && at + k < bytes.size(); ++k) bytes[at + k] = static_cast<std::uint8_t>(v >> (8 * k));
      break;
    }
    default: bytes.resize(position(rng)); break;
  }
}

TEST(ModelReaderFuzz, SeedsAreValidModelsThatRun) {
  const auto seeds = fuzz_seed_models();
  ASSERT_EQ(seeds.size(), 4u);
  for (const auto& seed : seeds) {
    EXPECT_NO_THROW(read_tflite(seed));
    LLVMFuzzerTestOneInput(seed.data(), seed.size());
  }
}

TEST(ModelReaderFuzz, MutatedSeedsAreRejectedCleanlyOrRun) {
  std::mt19937 rng(20261124);
  int rejected = 0, total = 0;
  for (const auto& seed : fuzz_seed_models()) {
    for (int i = 0; i < 1500; ++i) {
      std::vector<std::uint8_t> bytes = seed;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) mutate(bytes, rng);
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      try {
        read_tflite(bytes);
      } catch (const Error&) {
        ++rejected;
      }
      ++total;
    }
  }
  // Most damage is caught; some edits (a weight's value, an unread field) leave a valid model.
  EXPECT_GT(rejected, total / 4);
  EXPECT_LT(rejected, total);
}

TEST(ModelReaderFuzz, DamagedModelFilesAreRejectedCleanly) {
  std::mt19937 rng(7);
  for (const char* name : {"pose_detection.tflite", "pose_landmark_lite.tflite"}) {
    MONOBODY_MODEL_FILE_OR_SKIP(path, name);
    std::ifstream file(path, std::ios::binary);
    const std::vector<std::uint8_t> original{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    for (std::size_t keep : {std::size_t{0}, std::size_t{16}, original.size() / 3, original.size() - 4}) {
      const std::vector<std::uint8_t> part(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(keep));
      EXPECT_THROW(read_tflite(part), Error) << name << " truncated to " << keep;
    }
    // The tables (shapes, indices, options) sit in the first and last few kilobytes of these files;
    // the megabytes between are weights, where a flipped bit is just another weight.
    for (int i = 0; i < 12; ++i) {
      std::vector<std::uint8_t> bytes = original;
      const std::size_t span = 16384;
      const std::size_t at = i % 2 == 0 ? rng() % span : bytes.size() - 1 - rng() % span;
      bytes[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      try {
        read_tflite(bytes);
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      }
    }
  }
}

}  // namespace
}  // namespace monobody::nn
