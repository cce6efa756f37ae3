// monobody's binary body-model format and the SMPL-format .npz loader.
//
// Binary layout (little-endian):
//   "MBODYMDL" | u32 version (1) | u32 section count | u64 payload bytes | u32 CRC-32 of the payload | payload
// The payload is a sequence of sections: u16 name length, name, u8 type, u8 rank, u32 dims[rank], data.
// Types: 0 float32, 1 float16, 2 int32, 3 UTF-8 text (rank 1, bytes). Every section the reader expects must
// be present with the expected shape; unknown sections are ignored (room for optional additions).
#include <zip.h>
#include <zlib.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>

#include "monobody/body.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/npy.hpp"

namespace monobody {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'M', 'B', 'O', 'D', 'Y', 'M', 'D', 'L'};
constexpr std::uint32_t kVersion = 1;
enum class Type : std::uint8_t { F32 = 0, F16 = 1, I32 = 2, Text = 3 };

std::uint16_t float_to_half(float value) {
  const std::uint32_t f = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (f >> 16) & 0x8000u;
  const int exponent = int((f >> 23) & 0xff) - 127 + 15;
  std::uint32_t mantissa = f & 0x7fffffu;
  if (exponent >= 31) return std::uint16_t(sign | 0x7c00u);  // too large for float16 (values here are < 1)
  if (exponent <= 0) {                                        // subnormal float16 or zero
    if (exponent < -10) return std::uint16_t(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - exponent;
    std::uint32_t half = mantissa >> shift;
    if ((mantissa >> (shift - 1)) & 1u) ++half;  // round half up
    return std::uint16_t(sign | half);
  }
  std::uint32_t half = sign | (std::uint32_t(exponent) << 10) | (mantissa >> 13);
  if (mantissa & 0x1000u) ++half;  // round half up (a carry into the exponent is still correct)
  return std::uint16_t(half);
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  const int exponent = (h >> 10) & 0x1f;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) return std::ldexp(float(mantissa), -24) * (sign ? -1.0f : 1.0f);
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | (std::uint32_t(exponent - 15 + 127) << 23) | (mantissa << 13));
}

template <typename U>
void put(std::string& out, U value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(U));
}

class Writer {
 public:
  void add(const std::string& name, Type type, const std::vector<std::uint32_t>& dims, const std::string& data) {
    put(payload_, std::uint16_t(name.size()));
    payload_ += name;
    put(payload_, std::uint8_t(type));
    put(payload_, std::uint8_t(dims.size()));
    for (auto d : dims) put(payload_, d);
    payload_ += data;
    ++count_;
  }
  void floats(const std::string& name, const Eigen::MatrixXd& m, bool half = false) {  // stored row-major
    std::string data;
    for (int r = 0; r < m.rows(); ++r)
      for (int c = 0; c < m.cols(); ++c) {
        if (half) put(data, float_to_half(float(m(r, c))));
        else put(data, float(m(r, c)));
      }
    add(name, half ? Type::F16 : Type::F32, {std::uint32_t(m.rows()), std::uint32_t(m.cols())}, data);
  }
  void ints(const std::string& name, const std::vector<int>& v) {
    std::string data;
    for (int x : v) put(data, std::int32_t(x));
    add(name, Type::I32, {std::uint32_t(v.size())}, data);
  }
  void text(const std::string& name, const std::string& s) { add(name, Type::Text, {std::uint32_t(s.size())}, s); }
  std::string finish() const {
    std::string out(kMagic, 8);
    put(out, kVersion);
    put(out, std::uint32_t(count_));
    put(out, std::uint64_t(payload_.size()));
    put(out, std::uint32_t(crc32(0, reinterpret_cast<const Bytef*>(payload_.data()), uInt(payload_.size()))));
    return out + payload_;
  }

 private:
  std::string payload_;
  int count_ = 0;
};

struct Section {
  Type type;
  std::vector<std::uint32_t> dims;
  const char* data;
  std::size_t bytes;
};

class Reader {
 public:
  Reader(std::string bytes, std::string file) : bytes_(std::move(bytes)), file_(std::move(file)) {
    if (bytes_.size() < 28 || std::memcmp(bytes_.data(), kMagic, 8) != 0) fail("not a monobody body model");
    const auto version = get<std::uint32_t>(8);
    if (version != kVersion)
      fail("format version " + std::to_string(version) + " (this monobody reads version " +
           std::to_string(kVersion) + ")");
    const auto count = get<std::uint32_t>(12);
    const auto size = get<std::uint64_t>(16);
    const auto crc = get<std::uint32_t>(24);
    if (bytes_.size() - 28 != size)
      fail("truncated or padded (" + std::to_string(bytes_.size() - 28) + " payload bytes, header says " +
           std::to_string(size) + ")");
    if (crc32(0, reinterpret_cast<const Bytef*>(bytes_.data() + 28), uInt(size)) != crc)
      fail("checksum mismatch (the file is corrupt)");
    std::size_t at = 28;
    for (std::uint32_t i = 0; i < count; ++i) {
      const auto name_len = get<std::uint16_t>(at);
      need(at + 2 + name_len + 2);
      std::string name = bytes_.substr(at + 2, name_len);
      at += 2 + name_len;
      Section s;
      s.type = Type(std::uint8_t(bytes_[at]));
      const int rank = std::uint8_t(bytes_[at + 1]);
      at += 2;
      if (std::uint8_t(s.type) > 3 || rank > 4) fail("section '" + name + "' has a bad header");
      std::size_t n = 1;
      for (int d = 0; d < rank; ++d) {
        s.dims.push_back(get<std::uint32_t>(at));
        n *= s.dims.back();
        at += 4;
      }
      const std::size_t elem = s.type == Type::F16 ? 2 : s.type == Type::Text ? 1 : 4;
      if (n > bytes_.size()) fail("section '" + name + "' is too large");
      s.bytes = n * elem;
      need(at + s.bytes);
      s.data = bytes_.data() + at;
      at += s.bytes;
      sections_[name] = s;
    }
    if (at != bytes_.size()) fail("trailing bytes after the last section");
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw Error("cannot read body model '" + file_ + "': " + why);
  }

  const Section& section(const std::string& name) const {
    auto it = sections_.find(name);
    if (it == sections_.end()) fail("missing section '" + name + "'");
    return it->second;
  }
  bool has(const std::string& name) const { return sections_.count(name) != 0; }

  Eigen::MatrixXd floats(const std::string& name, long rows = -1, long cols = -1) const {
    const Section& s = section(name);
    if ((s.type != Type::F32 && s.type != Type::F16) || s.dims.size() != 2)
      fail("section '" + name + "' is not a float matrix");
    if ((rows >= 0 && s.dims[0] != rows) || (cols >= 0 && s.dims[1] != cols))
      fail("section '" + name + "' has shape " + std::to_string(s.dims[0]) + " x " + std::to_string(s.dims[1]) +
           ", expected " + std::to_string(rows) + " x " + std::to_string(cols));
    Eigen::MatrixXd m(s.dims[0], s.dims[1]);
    std::size_t k = 0;
    for (int r = 0; r < m.rows(); ++r)
      for (int c = 0; c < m.cols(); ++c, ++k) {
        if (s.type == Type::F16) {
          std::uint16_t h;
          std::memcpy(&h, s.data + 2 * k, 2);
          m(r, c) = half_to_float(h);
        } else {
          float f;
          std::memcpy(&f, s.data + 4 * k, 4);
          m(r, c) = f;
        }
        if (!std::isfinite(m(r, c))) fail("section '" + name + "' has a non-finite value");
      }
    return m;
  }
  std::vector<int> ints(const std::string& name) const {
    const Section& s = section(name);
    if (s.type != Type::I32 || s.dims.size() != 1) fail("section '" + name + "' is not an int vector");
    std::vector<int> v(s.dims[0]);
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::int32_t x;
      std::memcpy(&x, s.data + 4 * i, 4);
      v[i] = x;
    }
    return v;
  }
  std::string text(const std::string& name) const {
    const Section& s = section(name);
    if (s.type != Type::Text) fail("section '" + name + "' is not text");
    return std::string(s.data, s.bytes);
  }

 private:
  template <typename U>
  U get(std::size_t at) const {
    need(at + sizeof(U));
    U v;
    std::memcpy(&v, bytes_.data() + at, sizeof(U));
    return v;
  }
  void need(std::size_t end) const {
    if (end > bytes_.size()) fail("truncated");
  }

  std::string bytes_, file_;
  std::map<std::string, Section> sections_;
};

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += n + "\n";
  return out;
}
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

void save_body_model(const fs::path& path, const BodyModel& model) {
  model.validate();
  Writer w;
  const int V = model.num_vertices();
  w.text("name", model.name);
  w.floats("template_vertices", model.template_vertices.transpose());
  w.floats("shape_dirs", model.shape_dirs.transpose(), /*half=*/true);  // K x 3V: one direction per row
  if (model.pose_dirs.size()) w.floats("pose_dirs", model.pose_dirs.transpose(), true);
  w.ints("faces", std::vector<int>(model.faces.data(), model.faces.data() + model.faces.size()));
  w.text("joint_names", join(model.joint_names));
  w.ints("parents", model.parents);
  std::vector<int> reg_row, reg_col;
  Eigen::MatrixXd reg_weight(model.joint_regressor.nonZeros(), 1);
  for (int r = 0, k = 0; r < model.joint_regressor.rows(); ++r)
    for (Eigen::SparseMatrix<double, Eigen::RowMajor>::InnerIterator it(model.joint_regressor, r); it; ++it, ++k) {
      reg_row.push_back(r);
      reg_col.push_back(int(it.col()));
      reg_weight(k, 0) = it.value();
    }
  w.ints("joint_regressor_rows", reg_row);
  w.ints("joint_regressor_cols", reg_col);
  w.floats("joint_regressor_weights", reg_weight);
  w.ints("skin_offset", model.skin_offset);
  w.ints("skin_joint", model.skin_joint);
  w.floats("skin_weight", Eigen::Map<const Eigen::VectorXd>(model.skin_weight.data(), Eigen::Index(model.skin_weight.size())));
  std::vector<std::string> names;
  std::vector<int> offsets{0}, verts;
  std::vector<double> weights;
  for (const auto& l : model.landmarks) {
    names.push_back(l.name);
    for (auto [v, wt] : l.vertices) verts.push_back(v), weights.push_back(wt);
    offsets.push_back(int(verts.size()));
  }
  w.text("landmark_names", join(names));
  w.ints("landmark_offset", offsets);
  w.ints("landmark_vertex", verts);
  w.floats("landmark_weight", Eigen::Map<const Eigen::VectorXd>(weights.data(), Eigen::Index(weights.size())));
  if (model.semantic_map.size()) {
    w.text("semantic_names", join(model.semantic_names));
    w.floats("semantic_map", model.semantic_map);
  }
  if (!model.pose_prior.empty()) {
    w.floats("pose_prior_mean", model.pose_prior.mean);
    w.floats("pose_prior_whitening", model.pose_prior.whitening);
    w.floats("pose_prior_lower", model.pose_prior.lower);
    w.floats("pose_prior_upper", model.pose_prior.upper);
  }
  (void)V;
  write_file_atomic(path, w.finish());
}

namespace {

BodyModel read_binary(const fs::path& path) {
  const Reader r(read_text_file(path), path.string());
  BodyModel m;
  m.name = r.text("name");
  m.template_vertices = r.floats("template_vertices", -1, 3).transpose();
  const long V = m.template_vertices.cols();
  m.shape_dirs = r.floats("shape_dirs", -1, 3 * V).transpose();
  if (r.has("pose_dirs")) m.pose_dirs = r.floats("pose_dirs", -1, 3 * V).transpose();
  const std::vector<int> faces = r.ints("faces");
  if (faces.size() % 3) r.fail("face indices are not a multiple of 3");
  m.faces = Eigen::Map<const Eigen::Matrix3Xi>(faces.data(), 3, Eigen::Index(faces.size() / 3));
  m.joint_names = split_lines(r.text("joint_names"));
  m.parents = r.ints("parents");
  const auto rows = r.ints("joint_regressor_rows"), cols = r.ints("joint_regressor_cols");
  const Eigen::MatrixXd weights = r.floats("joint_regressor_weights", long(rows.size()), 1);
  if (rows.size() != cols.size()) r.fail("joint regressor index lists differ in length");
  std::vector<Eigen::Triplet<double>> triplets;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] < 0 || rows[k] >= int(m.parents.size()) || cols[k] < 0 || cols[k] >= V)
      r.fail("joint regressor index out of range");
    triplets.emplace_back(rows[k], cols[k], weights(long(k), 0));
  }
  m.joint_regressor.resize(long(m.parents.size()), V);
  m.joint_regressor.setFromTriplets(triplets.begin(), triplets.end());
  m.skin_offset = r.ints("skin_offset");
  m.skin_joint = r.ints("skin_joint");
  const Eigen::MatrixXd sw = r.floats("skin_weight", long(m.skin_joint.size()), 1);
  m.skin_weight.assign(sw.data(), sw.data() + sw.size());
  const auto names = split_lines(r.text("landmark_names"));
  const auto offsets = r.ints("landmark_offset"), verts = r.ints("landmark_vertex");
  const Eigen::MatrixXd lw = r.floats("landmark_weight", long(verts.size()), 1);
  if (offsets.size() != names.size() + 1 || offsets.back() != int(verts.size())) r.fail("landmark lists disagree");
  for (std::size_t i = 0; i < names.size(); ++i) {
    BodyLandmark l{names[i], {}};
    if (offsets[i] < 0 || offsets[i] > offsets[i + 1]) r.fail("landmark offsets out of order");
    for (int k = offsets[i]; k < offsets[i + 1]; ++k) l.vertices.emplace_back(verts[std::size_t(k)], lw(k, 0));
    m.landmarks.push_back(std::move(l));
  }
  if (r.has("semantic_map")) {
    m.semantic_names = split_lines(r.text("semantic_names"));
    m.semantic_map = r.floats("semantic_map", m.shape_dirs.cols(), long(m.semantic_names.size()) + 1);
  }
  if (r.has("pose_prior_mean")) {
    const long n = 3 * long(m.parents.size());
    m.pose_prior.mean = r.floats("pose_prior_mean", n, 1);
    m.pose_prior.whitening = r.floats("pose_prior_whitening", -1, n);
    m.pose_prior.lower = r.floats("pose_prior_lower", n, 1);
    m.pose_prior.upper = r.floats("pose_prior_upper", n, 1);
  }
  try {
    m.validate();
  } catch (const Error& e) {
    r.fail(e.what());
  }
  return m;
}

// The members of an .npz (a zip of .npy files), by name without ".npy".
std::map<std::string, std::string> read_npz(const fs::path& path) {
  const std::string bytes = read_text_file(path);
  const std::string file = path.string();
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (!source) throw Error("cannot read '" + file + "': " + zip_error_strerror(&error));
  zip_t* archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!archive) {
    zip_source_free(source);
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw Error("cannot read '" + file + "': not a valid .npz (zip) file: " + why);
  }
  std::unique_ptr<zip_t, int (*)(zip_t*)> guard(archive, zip_close);
  std::map<std::string, std::string> members;
  const zip_int64_t n = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    if (zip_stat_index(archive, zip_uint64_t(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      throw Error("cannot read '" + file + "': unreadable zip entry " + std::to_string(i));
    std::string name = st.name;
    if (name.size() > 4 && name.ends_with(".npy")) name.resize(name.size() - 4);
    if (st.size > (zip_uint64_t(1) << 32)) throw Error("cannot read '" + file + "': member '" + name + "' too large");
    std::string data(st.size, '\0');
    zip_file_t* f = zip_fopen_index(archive, zip_uint64_t(i), 0);
    if (!f) throw Error("cannot read '" + file + "': cannot open member '" + name + "'");
    const zip_int64_t got = zip_fread(f, data.data(), st.size);
    zip_fclose(f);
    if (got != zip_int64_t(st.size)) throw Error("cannot read '" + file + "': member '" + name + "' is corrupt");
    members[name] = std::move(data);
  }
  return members;
}

}  // namespace

BodyModel load_smpl_npz(const fs::path& path) {
  const auto members = read_npz(path);
  const std::string file = path.string();
  auto fail = [&](const std::string& why) -> Error { return Error("cannot read SMPL model '" + file + "': " + why); };
  auto array = [&](const char* name) {
    auto it = members.find(name);
    if (it == members.end()) throw fail(std::string("missing array '") + name + "'");
    return parse_npy<double>(it->second, file + ":" + name);
  };
  auto dims = [&](const NpyArray<double>& a, std::vector<std::int64_t> expect, const char* name) {
    bool ok = a.shape.size() == expect.size();
    for (std::size_t i = 0; ok && i < expect.size(); ++i) ok = expect[i] < 0 || a.shape[i] == expect[i];
    if (!ok) {
      std::string got;
      for (auto d : a.shape) got += (got.empty() ? "" : " x ") + std::to_string(d);
      throw fail(std::string("array '") + name + "' has shape (" + got + ")");
    }
  };
  const auto v_template = array("v_template");
  dims(v_template, {-1, 3}, "v_template");
  const std::int64_t V = v_template.shape[0];
  const auto shapedirs = array("shapedirs");
  dims(shapedirs, {V, 3, -1}, "shapedirs");
  const auto weights = array("weights");
  dims(weights, {V, -1}, "weights");
  const std::int64_t J = weights.shape[1];
  const auto kintree = array("kintree_table");
  dims(kintree, {2, J}, "kintree_table");
  const auto regressor = array("J_regressor");
  dims(regressor, {J, V}, "J_regressor");
  const auto f = array("f");
  dims(f, {-1, 3}, "f");

  BodyModel m;
  m.name = "smpl:" + path.filename().string();
  m.template_vertices = Eigen::Map<const Eigen::Matrix3Xd>(v_template.data.data(), 3, V);
  const std::int64_t K = shapedirs.shape[2];
  m.shape_dirs = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      shapedirs.data.data(), 3 * V, K);
  if (members.count("posedirs")) {
    const auto posedirs = array("posedirs");
    dims(posedirs, {V, 3, 9 * (J - 1)}, "posedirs");
    m.pose_dirs = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        posedirs.data.data(), 3 * V, 9 * (J - 1));
  }
  m.faces.resize(3, f.shape[0]);
  for (std::int64_t i = 0; i < f.size(); ++i) {
    if (f.data[std::size_t(i)] < 0 || f.data[std::size_t(i)] >= double(V)) throw fail("face index out of range");
    m.faces.data()[i] = int(f.data[std::size_t(i)]);
  }
  // kintree_table row 0 holds the parents; the root's is -1 or 2^32 - 1 (stored unsigned).
  static const char* const kSmplJoints[24] = {
      "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
      "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
      "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand",
      "right_hand"};
  for (std::int64_t j = 0; j < J; ++j) {
    const double p = kintree.data[std::size_t(j)];
    m.parents.push_back(j == 0 ? -1 : int(p));
    if (j > 0 && (p < 0 || p >= double(j))) throw fail("kintree_table: joint " + std::to_string(j) + " has parent " +
                                                        std::to_string(p) + " (parents must come first)");
    m.joint_names.push_back(J == 24 ? kSmplJoints[j] : "joint_" + std::to_string(j));
  }
  std::vector<Eigen::Triplet<double>> triplets;
  for (std::int64_t j = 0; j < J; ++j)
    for (std::int64_t v = 0; v < V; ++v)
      if (const double w = regressor.data[std::size_t(j * V + v)]; w != 0.0) triplets.emplace_back(int(j), int(v), w);
  m.joint_regressor.resize(J, V);
  m.joint_regressor.setFromTriplets(triplets.begin(), triplets.end());
  m.skin_offset.push_back(0);
  for (std::int64_t v = 0; v < V; ++v) {
    for (std::int64_t j = 0; j < J; ++j)
      if (const double w = weights.data[std::size_t(v * J + j)]; w > 1e-6) {
        m.skin_joint.push_back(int(j));
        m.skin_weight.push_back(w);
      }
    m.skin_offset.push_back(int(m.skin_joint.size()));
  }
  try {
    m.validate();
  } catch (const Error& e) {
    throw fail(e.what());
  }
  return m;
}

BodyModel load_body_model(const fs::path& path) {
  if (path.extension() == ".npz") return load_smpl_npz(path);
  return read_binary(path);
}

fs::path default_body_model_path() {
  if (const char* env = std::getenv("MONOBODY_BODY_MODEL"); env && *env) return env;
  return fs::path(MONOBODY_SOURCE_DIR) / "models" / "body" / "monobody_body_v1.bin";
}

}  // namespace monobody
