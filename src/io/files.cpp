#include "monobody/files.hpp"

#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "monobody/error.hpp"

namespace monobody {
namespace fs = std::filesystem;

namespace {

std::string quoted(const fs::path& p) { return std::string(1, '\'').append(p.string()).append(1, '\''); }

std::string read_raw(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error("cannot read " + quoted(path) + ": no such file");
  if (fs::is_directory(path, ec)) throw Error("cannot read " + quoted(path) + ": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + quoted(path) + ": " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error("cannot read " + quoted(path) + ": read error");
  return bytes;
}

std::string gunzip(const std::string& bytes, const fs::path& path) {
  z_stream zs{};
  // 16 + MAX_WBITS: expect a gzip header; concatenated gzip members are handled by resetting.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw Error("zlib initialisation failed");
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = uInt(bytes.size());
  char buffer[1 << 16];
  int rc = Z_OK;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof(buffer);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);
      continue;
    }
    if (rc != Z_OK) break;
    if (zs.avail_in == 0 && zs.avail_out != 0) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) throw Error("cannot read " + quoted(path) + ": corrupt or truncated gzip data");
  return out;
}

fs::path temporary_sibling(const fs::path& path) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string name = ".";
  name.append(path.filename().string()).append(".").append(std::to_string(rng() % 1000000000ULL)).append(".tmp");
  return dir / name;
}

void check_output_dir(const fs::path& path) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error("cannot write " + quoted(path) + ": " + quoted(dir) + (fs::exists(dir, ec) ? " is a file, not a folder" : " does not exist"));
  if (fs::is_directory(path, ec)) throw Error("cannot write " + quoted(path) + ": it is a directory");
}

void commit(const fs::path& tmp, const fs::path& path) {
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error("cannot write " + quoted(path) + ": " + ec.message());
  }
}

}  // namespace

std::string read_text_file(const fs::path& path) {
  std::string bytes = read_raw(path);
  if (bytes.size() >= 2 && uint8_t(bytes[0]) == 0x1f && uint8_t(bytes[1]) == 0x8b) return gunzip(bytes, path);
  return bytes;
}

nlohmann::json read_json_file(const fs::path& path) {
  const std::string text = read_text_file(path);
  try {
    // Nesting is limited: no file of ours nests deeper than a dozen levels, and a pathological depth would
    // exhaust the stack of the recursive code that later walks or frees the document.
    constexpr int kMaxDepth = 256;
    return nlohmann::json::parse(text, [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > kMaxDepth)
        throw Error("malformed JSON in " + quoted(path) + ": nested deeper than " + std::to_string(kMaxDepth) + " levels");
      return true;
    });
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ..."; keep the useful part.
    std::string what = e.what();
    const auto pos = what.find("] ");
    throw Error("malformed JSON in " + quoted(path) + ": " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  write_file_atomic(path, [&](const fs::path& tmp) {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw Error("cannot write " + quoted(path) + ": " + std::strerror(errno));
    const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
    const bool closed = std::fclose(f) == 0;
    if (!ok || !closed) throw Error("cannot write " + quoted(path) + ": " + std::strerror(errno));
  });
}

void write_file_atomic(const fs::path& requested, const std::function<void(const fs::path& tmp)>& write) {
  check_output_dir(requested);
  std::error_code ec;
  const fs::file_status status = fs::status(requested, ec);  // of what a link points to
  // A device or a pipe (say -o /dev/null) is written in place: renaming over it would replace it with a file.
  if (fs::exists(status) && !fs::is_regular_file(status)) {
    write(requested);
    return;
  }
  // A link to a file: the file it points to is replaced, and the link kept.
  fs::path path = requested;
  if (fs::is_symlink(fs::symlink_status(requested, ec)) && fs::exists(status))
    if (fs::path target = fs::canonical(requested, ec); !ec) path = target;
  const fs::path tmp = temporary_sibling(path);
  try {
    write(tmp);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  if (!fs::exists(tmp, ec)) throw Error("cannot write " + quoted(path) + ": nothing was written");
  commit(tmp, path);
}

void ensure_writable_directory(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw Error("cannot write into " + quoted(dir) + ": it exists and is not a directory");
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create output folder " + quoted(dir) + ": " + ec.message());
  if (::access(dir.c_str(), W_OK) != 0) throw Error("cannot write into " + quoted(dir) + ": " + std::strerror(errno));
}

fs::path shared_data_dir() {
  if (const char* env = std::getenv("MONOBODY_DATA"); env && *env) return env;
  const char* src = std::getenv("MONOBODY_SOURCE_DIR");
#ifdef MONOBODY_SOURCE_DIR
  if (!src || !*src) src = MONOBODY_SOURCE_DIR;
#endif
  return fs::path(src ? src : ".") / ".." / "shared" / "data";
}

}  // namespace monobody
