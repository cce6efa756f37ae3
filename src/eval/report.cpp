// Reports of the Human3.6M evaluation: the per-action table (markdown, JSON) and a bar chart (OpenCV).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "monobody/eval.hpp"
#include "monobody/image_io.hpp"

namespace monobody {
namespace {

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double position = q * double(values.size() - 1);
  const std::size_t below = std::size_t(std::floor(position));
  const std::size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (position - double(below)) * (values[above] - values[below]);
}

nlohmann::json distribution(const std::vector<double>& values) {
  double mean = 0.0;
  for (double v : values) mean += v;
  if (!values.empty()) mean /= double(values.size());
  return {{"mean", mean},
          {"p10", percentile(values, 0.1)},
          {"median", percentile(values, 0.5)},
          {"p90", percentile(values, 0.9)},
          {"p99", percentile(values, 0.99)},
          {"max", percentile(values, 1.0)}};
}

std::string cell(const H36mActionErrors& e, double H36mActionErrors::*field) {
  return e.poses > 0 ? fmt::format("{:.1f}", e.*field) : "-";
}

}  // namespace

std::string to_markdown(const H36mReport& r) {
  std::string header = "| |", rule = "|---|", p1 = "| P1 (MPJPE) |", p2 = "| P2 (PA-MPJPE) |";
  for (int a = 0; a < kH36mActionCount; ++a) {
    header += fmt::format(" {} |", kH36mActionLabels[a]);
    rule += "---|";
    p1 += fmt::format(" {} |", cell(r.actions[a], &H36mActionErrors::p1));
    p2 += fmt::format(" {} |", cell(r.actions[a], &H36mActionErrors::p2));
  }
  header += " Avg |";
  rule += "---|";
  p1 += fmt::format(" {:.1f} |", r.p1);
  p2 += fmt::format(" {:.1f} |", r.p2);
  std::string subjects;
  for (const auto& s : r.subjects) subjects += (subjects.empty() ? "" : ", ") + s;
  return fmt::format("Human3.6M {}, {} 2D input, lifter `{}`: {} poses{} (mm; Avg = mean over actions)\n\n", subjects,
                     r.input == "gt" ? "ground-truth" : "Stacked-Hourglass", r.lifter, r.poses,
                     r.failures ? fmt::format(", {} rejected", r.failures) : std::string()) +
         header + "\n" + rule + "\n" + p1 + "\n" + p2 + "\n" +
         fmt::format("\nOrdinal depth accuracy {:.1f} % of joint pairs.\n", 100.0 * r.ordinal_accuracy) +
         (r.relations_per_pose > 0
              ? fmt::format("With {} simulated annotator relations per pose; without them: P1 {:.1f}, P2 "
                            "{:.1f} mm, ordinal accuracy {:.1f} % (P1 {:+.1f} %).\n",
                            r.relations_per_pose, r.p1_without_relations, r.p2_without_relations,
                            100.0 * r.ordinal_accuracy_without_relations,
                            100.0 * (r.p1 - r.p1_without_relations) / std::max(r.p1_without_relations, 1e-9))
              : std::string());
}

nlohmann::json to_json(const H36mReport& r) {
  nlohmann::json actions = nlohmann::json::object();
  for (int a = 0; a < kH36mActionCount; ++a) {
    const auto& e = r.actions[a];
    actions[std::string(kH36mActions[a])] = {
        {"label", kH36mActionLabels[a]}, {"poses", e.poses}, {"p1_mm", e.p1}, {"p2_mm", e.p2}};
  }
  std::vector<double> iterations(r.iterations.begin(), r.iterations.end());
  return {{"schema", "monobody.eval.h36m"},
          {"version", 1},
          {"lifter", r.lifter},
          {"subjects", r.subjects},
          {"input", r.input},
          {"poses", r.poses},
          {"failures", r.failures},
          {"actions", actions},
          {"average", {{"p1_mm", r.p1}, {"p2_mm", r.p2}, {"what", "mean of the per-action means"}}},
          {"ordinal_accuracy", r.ordinal_accuracy},
          {"relations_per_pose", r.relations_per_pose},
          {"without_relations",
           {{"p1_mm", r.p1_without_relations},
            {"p2_mm", r.p2_without_relations},
            {"ordinal_accuracy", r.ordinal_accuracy_without_relations}}},
          {"milliseconds_per_pose", distribution(r.milliseconds)},
          {"iterations_per_pose", distribution(iterations)}};
}

void write_h36m_chart(const std::filesystem::path& path, const H36mReport& r) {
  const int width = 1280, height = 560, left = 70, right = 20, top = 60, bottom = 90;
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  double top_value = std::max(r.p1, r.p2);
  for (const auto& e : r.actions) top_value = std::max({top_value, e.p1, e.p2});
  top_value = std::max(20.0, std::ceil(top_value / 20.0) * 20.0);
  const int plot_h = height - top - bottom, plot_w = width - left - right;
  auto y_of = [&](double v) { return top + int(std::lround(plot_h * (1.0 - v / top_value))); };
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  const cv::Scalar grey(200, 200, 200), black(0, 0, 0);
  const cv::Scalar p1_colour(180, 119, 31), p2_colour(14, 127, 255);  // BGR: blue, orange
  for (double v = 0; v <= top_value + 1e-9; v += 20) {
    cv::line(canvas, {left, y_of(v)}, {width - right, y_of(v)}, grey, 1);
    cv::putText(canvas, fmt::format("{:.0f}", v), {left - 45, y_of(v) + 5}, font, 0.45, black, 1, cv::LINE_AA);
  }
  const int groups = kH36mActionCount + 1;
  const double group_w = double(plot_w) / groups;
  const int bar_w = int(group_w * 0.36);
  for (int g = 0; g < groups; ++g) {
    const bool avg = g == kH36mActionCount;
    const H36mActionErrors e = avg ? H36mActionErrors{r.poses, r.p1, r.p2} : r.actions[g];
    const int x0 = left + int(g * group_w + group_w * 0.14);
    if (e.poses > 0) {
      cv::rectangle(canvas, {x0, y_of(e.p1)}, {x0 + bar_w, y_of(0)}, p1_colour, cv::FILLED);
      cv::rectangle(canvas, {x0 + bar_w, y_of(e.p2)}, {x0 + 2 * bar_w, y_of(0)}, p2_colour, cv::FILLED);
      cv::putText(canvas, fmt::format("{:.0f}", e.p1), {x0 - 2, y_of(e.p1) - 4}, font, 0.35, black, 1, cv::LINE_AA);
      cv::putText(canvas, fmt::format("{:.0f}", e.p2), {x0 + bar_w, y_of(e.p2) - 4}, font, 0.35, black, 1,
                  cv::LINE_AA);
    }
    const std::string label(avg ? std::string_view("Avg") : kH36mActionLabels[g]);
    cv::putText(canvas, label, {x0 - 4, height - bottom + 20 + (g % 2) * 18}, font, 0.45, black, 1, cv::LINE_AA);
  }
  cv::line(canvas, {left, y_of(0)}, {width - right, y_of(0)}, black, 1);
  std::string subjects;
  for (const auto& s : r.subjects) subjects += (subjects.empty() ? "" : ",") + s;
  cv::putText(canvas,
              fmt::format("Human3.6M {} ({} 2D), lifter {}: error per action, mm", subjects, r.input, r.lifter),
              {left, 30}, font, 0.6, black, 1, cv::LINE_AA);
  cv::rectangle(canvas, {width - 330, 15}, {width - 315, 30}, p1_colour, cv::FILLED);
  cv::putText(canvas, "P1 MPJPE", {width - 310, 28}, font, 0.45, black, 1, cv::LINE_AA);
  cv::rectangle(canvas, {width - 200, 15}, {width - 185, 30}, p2_colour, cv::FILLED);
  cv::putText(canvas, "P2 PA-MPJPE", {width - 180, 28}, font, 0.45, black, 1, cv::LINE_AA);

  Image image(width, height);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const auto& bgr = canvas.at<cv::Vec3b>(y, x);
      std::uint8_t* px = image.row(y) + 3 * x;
      px[0] = bgr[2], px[1] = bgr[1], px[2] = bgr[0];
    }
  write_image(path, image.view());
}

}  // namespace monobody
