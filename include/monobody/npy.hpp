// NumPy .npy (format 1.0/2.0) arrays: little-endian float32/float64/int32/int64, C order, no pickles.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace monobody {

template <typename T>
struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<T> data;  // C order

  std::int64_t size() const { return std::int64_t(data.size()); }
  // Element at a multi-index given as the leading offsets (row-major).
  const T& at(std::initializer_list<std::int64_t> index) const;
};

// Reads any supported dtype and converts it to T (float, double, std::int32_t or std::int64_t).
// Throws monobody::Error for a missing file, a bad header, an unsupported dtype, Fortran order or a
// truncated body.
template <typename T>
NpyArray<T> read_npy(const std::filesystem::path& path);

// The same from the bytes of a .npy held in memory (e.g. a member of an .npz); `name` appears in errors.
template <typename T>
NpyArray<T> parse_npy(const std::string& bytes, const std::string& name);

// The bytes of a .npy file holding a float32 (T = float) or int32 (T = std::int32_t) array.
template <typename T>
std::string encode_npy(const std::vector<std::int64_t>& shape, const T* data);

// Writes float32 (T = float) or int32 (T = std::int32_t) arrays, atomically.
template <typename T>
void write_npy(const std::filesystem::path& path, const std::vector<std::int64_t>& shape, const T* data);

template <typename T>
const T& NpyArray<T>::at(std::initializer_list<std::int64_t> index) const {
  std::int64_t offset = 0;
  std::size_t d = 0;
  for (std::int64_t i : index) offset = offset * shape[d++] + i;
  for (; d < shape.size(); ++d) offset *= shape[d];
  return data[std::size_t(offset)];
}

}  // namespace monobody
