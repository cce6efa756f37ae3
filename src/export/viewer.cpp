// The HTML viewer: three.js and its loaders inlined as classic scripts, the data as one JSON object, and the
// page's own script (viewer.js, compiled in).
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "monobody/error.hpp"
#include "monobody/export.hpp"
#include "monobody/files.hpp"
#include "viewer_js.hpp"

namespace monobody {

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string base64(const std::uint8_t* data, std::size_t size) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (std::size_t i = 0; i < size; i += 3) {
    const std::uint32_t n = std::uint32_t(data[i]) << 16 | (i + 1 < size ? std::uint32_t(data[i + 1]) << 8 : 0u) |
                            (i + 2 < size ? std::uint32_t(data[i + 2]) : 0u);
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += i + 1 < size ? kAlphabet[n >> 6 & 63] : '=';
    out += i + 2 < size ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// Text inside <script> must not close the element early; "<\/" means the same in JavaScript strings.
std::string script_safe(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') out += '\\';
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// What the page needs to know of the scene: the people's depths at the first frame (their root joints, the
// scene nodes without a mesh) and the number of frames (the animation's last time).
struct SceneSummary {
  std::vector<double> depths;
  int frames = 1;
};

SceneSummary summarize(const std::vector<std::uint8_t>& glb, double fps) {
  auto u32 = [&glb](std::size_t at) {
    return std::uint32_t(glb[at]) | std::uint32_t(glb[at + 1]) << 8 | std::uint32_t(glb[at + 2]) << 16 |
           std::uint32_t(glb[at + 3]) << 24;
  };
  if (glb.size() < 20 || u32(0) != 0x46546C67 || u32(16) != 0x4E4F534A || 20 + std::size_t(u32(12)) > glb.size())
    throw Error("the viewer's glb is not a glTF binary");
  const json gltf = json::parse(glb.begin() + 20, glb.begin() + 20 + long(u32(12)));
  SceneSummary summary;
  for (int n : gltf.at("scenes").at(0).at("nodes")) {
    const json& node = gltf.at("nodes").at(std::size_t(n));
    if (!node.contains("mesh") && node.contains("translation"))
      summary.depths.push_back(-node["translation"][2].get<double>());
  }
  for (const json& animation : gltf.value("animations", json::array()))
    for (const json& sampler : animation.at("samplers")) {
      const double last = gltf.at("accessors").at(sampler.at("input").get<std::size_t>()).at("max").at(0);
      summary.frames = std::max(summary.frames, int(std::lround(last * fps)) + 1);
    }
  return summary;
}

}  // namespace

std::filesystem::path default_three_dir() {
  if (const char* env = std::getenv("MONOBODY_THREE_DIR"); env && *env) return env;
  return fs::path(MONOBODY_SOURCE_DIR) / "third_party" / "npm" / "three";
}

void write_viewer_html(const std::filesystem::path& path, const ViewerContent& content) {
  const fs::path three = default_three_dir();
  const fs::path scripts[] = {three / "build" / "three.min.js", three / "examples" / "js" / "loaders" / "GLTFLoader.js",
                              three / "examples" / "js" / "controls" / "OrbitControls.js"};
  for (const fs::path& script : scripts)
    if (!fs::exists(script)) throw Error("three.js is missing ('" + script.string() + "'): run scripts/setup.sh");
  if (content.glb.empty()) throw Error("the viewer needs a glb");
  if (content.image_width <= 0 || content.image_height <= 0 || !(content.camera.fx > 0) || !(content.camera.fy > 0))
    throw Error("the viewer needs the image size and a camera with positive focal lengths");
  if (content.frame_step < 1 || !(content.fps > 0)) throw Error("the viewer needs frame_step >= 1 and fps > 0");

  const SceneSummary scene = summarize(content.glb, content.fps);
  const std::vector<double>& depths = scene.depths;
  double centre = 0, farthest = 0;
  for (double d : depths) {
    centre += d / double(depths.size());
    farthest = std::max(farthest, d);
  }
  if (depths.empty() || !(centre > 0)) centre = 3.0;  // nobody in front of the camera: orbit a point 3 m ahead
  json data = {{"width", content.image_width},
               {"height", content.image_height},
               {"fx", content.camera.fx},
               {"fy", content.camera.fy},
               {"cx", content.camera.cx},
               {"cy", content.camera.cy},
               {"fps", content.fps},
               {"frameStep", content.frame_step},
               {"frames", scene.frames},
               {"centreDepth", centre},
               // Far enough behind everybody to stay behind them while they move.
               {"backgroundDepth", std::max(20.0, 4.0 * farthest)},
               {"glb", base64(content.glb.data(), content.glb.size())},
               {"pictures", json::array()}};
  for (const auto& jpeg : content.frames_jpeg) data["pictures"].push_back(base64(jpeg.data(), jpeg.size()));

  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                     html_escape(content.title) + "</title>\n<style>\n" R"(
html, body { margin: 0; height: 100%; background: #111; overflow: hidden; font: 13px sans-serif; }
#view { position: absolute; }
#ui { position: absolute; left: 8px; top: 8px; display: flex; gap: 6px; align-items: center; color: #eee; }
#ui button { font: inherit; padding: 2px 8px; }
#error { display: none; position: absolute; left: 8px; bottom: 8px; color: #f66; background: #000c; padding: 4px; }
</style>
</head>
<body>
<canvas id="view"></canvas>
<div id="ui"><button id="reset">camera view</button><button id="play">play</button><input id="frame" type="range" min="0" max="0" value="0"><span id="label"></span></div>
<div id="error"></div>
<script>
addEventListener('error', (e) => { document.title = 'error: ' + e.message; });  // until the viewer's own handler
</script>
)";
  for (const fs::path& script : scripts) html += "<script>\n" + script_safe(read_text_file(script)) + "\n</script>\n";
  html += "<script>\nconst MONOBODY = " + script_safe(data.dump()) + ";\n</script>\n";
  html += "<script>\n" + script_safe(kViewerJs) + "\n</script>\n</body>\n</html>\n";
  write_file_atomic(path, html);
}

}  // namespace monobody
