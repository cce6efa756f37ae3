// monobody: 3D people from RGB photos and video. This file only sets up the command line; every
// subcommand is in its own file. Errors become one line on stderr and a non-zero exit.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <exception>
#include <filesystem>
#include <iostream>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "monobody/error.hpp"
#include "monobody/files.hpp"
#include "monobody/image_io.hpp"

namespace monobody::cli {

int GlobalOptions::resolved_threads() const {
  return threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()));
}

void ensure_output_folder(const std::string& output_file) {
  const std::filesystem::path folder = std::filesystem::path(output_file).parent_path();
  ensure_writable_directory(folder.empty() ? std::filesystem::path(".") : folder);
}

void check_media_input(const std::string& input) {
  const std::filesystem::path path = input;
  if (!std::filesystem::exists(path)) throw monobody::Error("input not found: " + path.string());
  if (!std::filesystem::is_directory(path) && !monobody::is_image_path(path) && !monobody::is_video_path(path))
    throw monobody::Error("'" + path.string() + "' is neither an image, a video nor a folder");
}

}  // namespace monobody::cli

int main(int argc, char** argv) {
  using namespace monobody::cli;
  CLI::App app{"monobody: people's 3D pose and body shape from RGB photos and video, on a CPU."};
  app.set_version_flag("--version", std::string("monobody ") + MONOBODY_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  GlobalOptions global;
  app.add_option("--threads", global.threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_flag("-q,--quiet", global.quiet, "Print only errors");
  app.add_flag("-v,--verbose", global.verbose, "Print details of each stage");

  const std::vector<Command> commands = {
      add_run_command(app, global),
      add_convert_command(app, global),
      add_draw_command(app, global),
      add_detect_command(app, global),
      add_eval_pck_command(app, global),
      add_lift_command(app, global),
      add_eval_command(app, global),
      add_train_dictionary_command(app, global),
      add_train_lifter_command(app, global),
      add_train_correction_command(app, global),
      add_train_body_model_command(app, global),
      add_fit_command(app, global),
      add_export_command(app, global),
  };

  try {
    app.parse(argc, argv);
    spdlog::set_pattern("%^%l%$: %v");
    spdlog::set_level(global.quiet ? spdlog::level::err : global.verbose ? spdlog::level::debug : spdlog::level::info);
    for (const auto& command : commands)
      if (command.parser->parsed()) command.run();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "monobody: usage error: " << e.what() << " (see --help)\n";
    return 2;
  } catch (const monobody::Error& e) {
    std::cerr << "monobody: error: " << e.what() << "\n";
    return 1;
  } catch (const nlohmann::json::exception& e) {
    // A JSON file that parsed but holds a value of the wrong type where a reader did not check (e.g. a number
    // where a name belongs). e.what() is "[json.exception.type_error.302] type must be string, but is number".
    const std::string what = e.what();
    const auto pos = what.find("] ");
    std::cerr << "monobody: error: a JSON input holds a value of the wrong kind: "
              << (pos == std::string::npos ? what : what.substr(pos + 2)) << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "monobody: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "monobody: internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
