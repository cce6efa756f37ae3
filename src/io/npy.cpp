#include "monobody/npy.hpp"

#include <cctype>
#include <cstring>
#include <regex>
#include <string>

#include "monobody/error.hpp"
#include "monobody/files.hpp"

namespace monobody {
namespace fs = std::filesystem;

namespace {

enum class Dtype { F4, F8, I4, I8, U4, U8 };

struct Header {
  Dtype dtype;
  std::vector<std::int64_t> shape;
  std::size_t data_offset;
};

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw Error("cannot read NumPy array '" + path + "': " + why);
}

Header parse_header(const std::string& bytes, const std::string& path) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) fail(path, "not a .npy file");
  const int major = uint8_t(bytes[6]);
  std::size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = uint8_t(bytes[8]) | (std::size_t(uint8_t(bytes[9])) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(path, "truncated header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= std::size_t(uint8_t(bytes[8 + i])) << (8 * i);
    prefix = 12;
  } else {
    fail(path, "unsupported format version " + std::to_string(major));
  }
  if (bytes.size() < prefix + header_len) fail(path, "truncated header");
  const std::string dict = bytes.substr(prefix, header_len);

  std::smatch m;
  if (!std::regex_search(dict, m, std::regex(R"('descr'\s*:\s*'([^']*)')"))) fail(path, "header has no 'descr'");
  const std::string descr = m[1];
  Header h{};
  if (descr == "<f4") h.dtype = Dtype::F4;
  else if (descr == "<f8") h.dtype = Dtype::F8;
  else if (descr == "<i4") h.dtype = Dtype::I4;
  else if (descr == "<i8") h.dtype = Dtype::I8;
  else if (descr == "<u4") h.dtype = Dtype::U4;
  else if (descr == "<u8") h.dtype = Dtype::U8;
  else fail(path, "unsupported dtype '" + descr + "' (supported: <f4, <f8, <i4, <i8, <u4, <u8)");

  if (!std::regex_search(dict, m, std::regex(R"('fortran_order'\s*:\s*(True|False))")))
    fail(path, "header has no 'fortran_order'");
  if (m[1] == "True") fail(path, "Fortran-ordered arrays are not supported");

  if (!std::regex_search(dict, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) fail(path, "header has no 'shape'");
  std::string dims;
  for (const char c : m[1].str())  // Python 2's numpy wrote long integers with an L: (10L, 3L)
    if (!(c == 'L' && !dims.empty() && std::isdigit(static_cast<unsigned char>(dims.back())))) dims += c;
  if (dims.find_first_not_of("0123456789, \t") != std::string::npos) fail(path, "the shape must be non-negative whole numbers");
  const std::regex number(R"(\d+)");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    const auto& s = it->str();
    if (s.size() > 12) fail(path, "dimension too large");
    h.shape.push_back(std::stoll(s));
  }
  h.data_offset = prefix + header_len;
  return h;
}

std::size_t dtype_size(Dtype d) { return (d == Dtype::F4 || d == Dtype::I4 || d == Dtype::U4) ? 4 : 8; }

template <typename T, typename Src>
void convert(const char* src, std::size_t n, std::vector<T>& out) {
  out.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    Src v;
    std::memcpy(&v, src + i * sizeof(Src), sizeof(Src));
    out[i] = static_cast<T>(v);
  }
}

template <typename T>
const char* descr_of();
template <>
const char* descr_of<float>() { return "<f4"; }
template <>
const char* descr_of<std::int32_t>() { return "<i4"; }

}  // namespace

template <typename T>
NpyArray<T> read_npy(const fs::path& path) {
  return parse_npy<T>(read_text_file(path), path.string());  // also accepts .npy.gz
}

template <typename T>
NpyArray<T> parse_npy(const std::string& bytes, const std::string& path) {
  const Header h = parse_header(bytes, path);
  std::size_t count = 1;
  for (auto d : h.shape) {
    if (d < 0 || (d > 0 && count > (std::size_t(1) << 40) / std::size_t(d))) fail(path, "shape too large");
    count *= std::size_t(d);
  }
  const std::size_t need = count * dtype_size(h.dtype);
  if (bytes.size() - h.data_offset < need)
    fail(path, "truncated data (" + std::to_string(bytes.size() - h.data_offset) + " bytes, expected " +
                   std::to_string(need) + ")");
  NpyArray<T> a;
  a.shape = h.shape;
  const char* src = bytes.data() + h.data_offset;
  switch (h.dtype) {
    case Dtype::F4: convert<T, float>(src, count, a.data); break;
    case Dtype::F8: convert<T, double>(src, count, a.data); break;
    case Dtype::I4: convert<T, std::int32_t>(src, count, a.data); break;
    case Dtype::I8: convert<T, std::int64_t>(src, count, a.data); break;
    case Dtype::U4: convert<T, std::uint32_t>(src, count, a.data); break;
    case Dtype::U8: convert<T, std::uint64_t>(src, count, a.data); break;
  }
  return a;
}

template <typename T>
void write_npy(const fs::path& path, const std::vector<std::int64_t>& shape, const T* data) {
  write_file_atomic(path, encode_npy(shape, data));
}

template <typename T>
std::string encode_npy(const std::vector<std::int64_t>& shape, const T* data) {
  std::string dims;  // "(3, 4)", or "(3,)" for one dimension
  std::size_t count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dims += (i ? ", " : "") + std::to_string(shape[i]);
    count *= std::size_t(shape[i]);
  }
  if (shape.size() == 1) dims += ",";
  std::string dict = std::string("{'descr': '") + descr_of<T>() + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad so that the data starts on a 64-byte boundary; the header ends with '\n'.
  std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(dict.size() & 0xff);
  out += char(dict.size() >> 8);
  out += dict;
  out.append(reinterpret_cast<const char*>(data), count * sizeof(T));
  return out;
}

template NpyArray<float> read_npy<float>(const fs::path&);
template NpyArray<double> read_npy<double>(const fs::path&);
template NpyArray<std::int32_t> read_npy<std::int32_t>(const fs::path&);
template NpyArray<std::int64_t> read_npy<std::int64_t>(const fs::path&);
template NpyArray<float> parse_npy<float>(const std::string&, const std::string&);
template NpyArray<double> parse_npy<double>(const std::string&, const std::string&);
template NpyArray<std::int32_t> parse_npy<std::int32_t>(const std::string&, const std::string&);
template NpyArray<std::int64_t> parse_npy<std::int64_t>(const std::string&, const std::string&);
template std::string encode_npy<float>(const std::vector<std::int64_t>&, const float*);
template std::string encode_npy<std::int32_t>(const std::vector<std::int64_t>&, const std::int32_t*);
template void write_npy<float>(const fs::path&, const std::vector<std::int64_t>&, const float*);
template void write_npy<std::int32_t>(const fs::path&, const std::vector<std::int64_t>&, const std::int32_t*);

}  // namespace monobody
