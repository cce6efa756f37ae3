// File helpers: reading text that may be gzip-compressed, reading JSON with clear errors, and writing
// outputs atomically so that a failed run never leaves a half-written file over a user's good one.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace monobody {

// Whole file as bytes; gzip-compressed files (magic 1f 8b) are decompressed transparently.
// Throws monobody::Error naming the file when it is missing, unreadable or a corrupt gzip stream.
std::string read_text_file(const std::filesystem::path& path);

// Parses a JSON file (optionally gzip-compressed). Errors name the file and the parser's position.
nlohmann::json read_json_file(const std::filesystem::path& path);

// Writes `content` to `path` through a temporary file in the same folder and a rename.
// Throws monobody::Error (and leaves any existing `path` untouched) if the folder is missing or unwritable.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// As above, for writers that need a real file path (e.g. OpenCV's imwrite): `write` is called with the
// temporary path and must create it; the file is renamed over `path` only if `write` returns normally.
void write_file_atomic(const std::filesystem::path& path,
                       const std::function<void(const std::filesystem::path& tmp)>& write);

// Creates the output folder if needed; throws monobody::Error if it cannot be created or written into.
void ensure_writable_directory(const std::filesystem::path& dir);

// Where the shared data folder is: $MONOBODY_DATA, else <source dir>/../shared/data.
std::filesystem::path shared_data_dir();

}  // namespace monobody
