#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace monobody::cli {

ProgressBar::ProgressBar(std::string label, long total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && ::isatty(STDERR_FILENO)) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(long steps) {
  done_ += steps;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ > std::chrono::milliseconds(100) || done_ == total_) {
    last_draw_ = now;
    draw(false);
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_) draw(true);
}

void ProgressBar::draw(bool final) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? done_ / seconds : 0.0;
  constexpr int kWidth = 30;
  std::string bar;
  if (total_ > 0) {
    const int filled = int(kWidth * std::min(1.0, double(done_) / double(total_)));
    bar.assign(1, '[').append(std::size_t(filled), '#').append(std::size_t(kWidth - filled), '.').append(1, ']');
    const double eta = rate > 0 ? (total_ - done_) / rate : 0.0;
    std::fprintf(stderr, "\r%s %s %ld/%ld  %.1f/s  eta %.0fs   ", label_.c_str(), bar.c_str(), done_, total_, rate,
                 eta);
  } else {
    std::fprintf(stderr, "\r%s %ld  %.1f/s   ", label_.c_str(), done_, rate);
  }
  if (final) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace monobody::cli
