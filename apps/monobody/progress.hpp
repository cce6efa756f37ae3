// A terminal progress bar for long work (video frames, folders of images). Drawn on stderr only when it
// is a terminal and the run is not --quiet, so logs and CI output stay clean.
#pragma once

#include <chrono>
#include <string>

namespace monobody::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, long total, bool enabled);
  ~ProgressBar();
  void advance(long steps = 1);
  void finish();

 private:
  void draw(bool final);
  std::string label_;
  long total_;
  long done_ = 0;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace monobody::cli
