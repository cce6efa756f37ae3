// Helpers for tests that read real data: the shared data folder beside the repository, the demo inputs
// that scripts/setup.sh provides, and the pretrained model files. Tests skip with a clear message when
// a file is absent (CI and users may run without ../shared).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>

namespace monobody::test {

// <shared data>/relative if it exists.
std::optional<std::filesystem::path> shared_file(const std::string& relative);
// examples/data/<name> (from scripts/setup.sh), else Debian opencv-doc's copy, if either exists.
std::optional<std::filesystem::path> demo_file(const std::string& name);
// models/<name> (fetched by scripts/setup.sh) if it exists.
std::optional<std::filesystem::path> model_file(const std::string& name);
std::filesystem::path source_dir();
// A fresh empty folder for a test's outputs, removed when the process exits.
std::filesystem::path temp_dir(const std::string& name);

// A shell command line run to its end, with what it wrote to stdout and to stderr kept apart (the CLI tests
// check that an error is exactly one line on stderr).
struct CommandRun {
  int exit_code = -1;
  std::string out, err;
};
CommandRun run_command(const std::string& command_line);
// The whole content of a file ("" when it cannot be read).
std::string slurp(const std::filesystem::path& path);

}  // namespace monobody::test

// Declares `const std::filesystem::path var` or skips the test with the reason.
#define MONOBODY_SHARED_FILE_OR_SKIP(var, relative)                                                       \
  const auto var##_found = ::monobody::test::shared_file(relative);                                       \
  if (!var##_found) GTEST_SKIP() << "shared data absent: " << (relative) << " (set MONOBODY_DATA to the " \
                                 << "shared data folder)";                                                \
  const std::filesystem::path var = *var##_found

#define MONOBODY_DEMO_FILE_OR_SKIP(var, name)                                                           \
  const auto var##_found = ::monobody::test::demo_file(name);                                           \
  if (!var##_found) GTEST_SKIP() << "demo input absent: " << (name) << " (run scripts/setup.sh)";       \
  const std::filesystem::path var = *var##_found

#define MONOBODY_MODEL_FILE_OR_SKIP(var, name)                                                          \
  const auto var##_found = ::monobody::test::model_file(name);                                          \
  if (!var##_found) GTEST_SKIP() << "model file absent: models/" << (name) << " (run scripts/setup.sh)"; \
  const std::filesystem::path var = *var##_found
