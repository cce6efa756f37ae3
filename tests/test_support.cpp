#include "test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "monobody/files.hpp"

namespace monobody::test {
namespace fs = std::filesystem;

fs::path source_dir() {
  if (const char* env = std::getenv("MONOBODY_SOURCE_DIR"); env && *env) return env;
  return MONOBODY_SOURCE_DIR;
}

std::optional<fs::path> shared_file(const std::string& relative) {
  const fs::path p = shared_data_dir() / relative;
  if (fs::exists(p)) return p;
  return std::nullopt;
}

std::optional<fs::path> demo_file(const std::string& name) {
  for (const fs::path& dir : {source_dir() / "examples" / "data", fs::path("/usr/share/doc/opencv-doc/examples/data")}) {
    if (fs::exists(dir / name)) return dir / name;
  }
  return std::nullopt;
}

std::optional<fs::path> model_file(const std::string& name) {
  const fs::path p = source_dir() / "models" / name;
  if (fs::exists(p)) return p;
  return std::nullopt;
}

namespace {
struct TempRoot {
  fs::path path;
  TempRoot() {
    std::string templ = (fs::temp_directory_path() / "monobody-test-XXXXXX").string();
    path = ::mkdtemp(templ.data()) ? fs::path(templ) : fs::temp_directory_path() / "monobody-test";
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

CommandRun run_command(const std::string& command_line) {
  const fs::path dir = temp_dir("command_run");
  const std::string cmd = command_line + " >'" + (dir / "out").string() + "' 2>'" + (dir / "err").string() + "' </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out"), slurp(dir / "err")};
}

fs::path temp_dir(const std::string& name) {
  static TempRoot root;
  const fs::path dir = root.path / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace monobody::test
