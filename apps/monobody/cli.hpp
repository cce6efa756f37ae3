// Shared pieces of the monobody command-line tool. Each subcommand lives in its own file and registers
// itself on the app; the commands only wire library stages together.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace monobody::cli {

struct GlobalOptions {
  int threads = 0;        // 0: all cores
  bool quiet = false;
  bool verbose = false;

  int resolved_threads() const;
};

// A subcommand: its CLI11 parser and what runs when it was chosen (after parsing, so the global options
// are known). Each command file has one `add_<name>_command` function.
struct Command {
  CLI::App* parser = nullptr;
  std::function<void()> run;
};

// Checks that a command's input is an existing photo, video or folder; throws monobody::Error saying which
// it is not.
void check_media_input(const std::string& input);

// Creates the folder an output file goes into (if needed) and checks it is writable: long jobs call it before
// they start, so that a mistyped folder fails at once rather than after the work.
void ensure_output_folder(const std::string& output_file);

// The `eval` command that groups the evaluations of every stage (created by the first caller).
CLI::App* eval_group(CLI::App& app);

Command add_convert_command(CLI::App& app, const GlobalOptions& global);
Command add_draw_command(CLI::App& app, const GlobalOptions& global);
Command add_detect_command(CLI::App& app, const GlobalOptions& global);
Command add_eval_pck_command(CLI::App& app, const GlobalOptions& global);
Command add_lift_command(CLI::App& app, const GlobalOptions& global);
Command add_eval_command(CLI::App& app, const GlobalOptions& global);
Command add_train_dictionary_command(CLI::App& app, const GlobalOptions& global);
Command add_train_lifter_command(CLI::App& app, const GlobalOptions& global);
Command add_train_correction_command(CLI::App& app, const GlobalOptions& global);
Command add_train_body_model_command(CLI::App& app, const GlobalOptions& global);
Command add_fit_command(CLI::App& app, const GlobalOptions& global);
Command add_run_command(CLI::App& app, const GlobalOptions& global);
Command add_export_command(CLI::App& app, const GlobalOptions& global);

}  // namespace monobody::cli
