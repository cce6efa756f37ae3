// monobody convert: re-express the keypoints of a result file in another joint set.
#include <spdlog/spdlog.h>

#include "cli.hpp"
#include "monobody/result.hpp"

namespace monobody::cli {

Command add_convert_command(CLI::App& app, const GlobalOptions&) {
  struct Options {
    std::string input, output, joint_set;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("convert", "Map the 2D keypoints and 3D joints of a result to another joint set");
  sub->add_option("input", opt->input, "Result JSON (monobody.result)")->required();
  sub->add_option("--to", opt->joint_set, "Target joint set: blazepose33, coco17, h36m17, mpii16, lsp14")->required();
  sub->add_option("-o,--output", opt->output, "Output JSON")->required();
  return {sub, [opt] {
            const JointSet to = parse_joint_set(opt->joint_set);
            Result result = read_result(opt->input);
            int people = 0;
            for (auto& frame : result.frames) {
              for (auto& person : frame.people) {
                if (person.keypoints2d) person.keypoints2d = map_joints(*person.keypoints2d, to);
                if (person.joints3d) person.joints3d = map_joints(*person.joints3d, to);
                ++people;
              }
            }
            write_result(opt->output, result);
            spdlog::info("converted {} people in {} frames to {} -> {}", people, result.frames.size(),
                         to_string(to), opt->output);
          }};
}

}  // namespace monobody::cli
