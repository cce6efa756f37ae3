// monobody draw: draw the 2D skeletons of a result over its image.
#include <spdlog/spdlog.h>

#include "cli.hpp"
#include "monobody/draw.hpp"
#include "monobody/error.hpp"
#include "monobody/image_io.hpp"
#include "monobody/result.hpp"

namespace monobody::cli {

Command add_draw_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string result, image, output;
    int frame = 0;
    double min_confidence = 0.3;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("draw", "Draw the 2D skeletons of a result over an image");
  sub->add_option("result", opt->result, "Result JSON (monobody.result)")->required();
  sub->add_option("image", opt->image, "The image the result belongs to")->required();
  sub->add_option("-o,--output", opt->output, "Output picture (.png or .jpg)")->required();
  sub->add_option("--frame", opt->frame, "Which frame of the result to draw (index into its frames)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--min-confidence", opt->min_confidence, "Hide joints below this confidence")
      ->check(CLI::Range(0.0, 1.0));
  return {sub, [opt] {
            const Result result = read_result(opt->result);
            if (opt->frame >= int(result.frames.size()))
              throw Error("'" + opt->result + "' has " + std::to_string(result.frames.size()) + " frames, no frame " +
                          std::to_string(opt->frame));
            Image image = read_image(opt->image);
            const FrameResult& frame = result.frames[std::size_t(opt->frame)];
            int drawn = 0;
            for (const auto& person : frame.people) {
              if (!person.keypoints2d) continue;
              draw_skeleton(image, *person.keypoints2d, person.id, {.min_confidence = opt->min_confidence});
              ++drawn;
            }
            write_image(opt->output, image.view());
            spdlog::info("drew {} people -> {}", drawn, opt->output);
          }};
}

}  // namespace monobody::cli
