// Training progress for the terminal: one line rewritten in place on a TTY,
// periodic plain lines otherwise (logs, pipes).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "train/solver.h"

namespace cudl::cli {

class Progress {
 public:
  explicit Progress(bool tty) : tty_(tty) {}

  void step(const StepReport& r) {
    const bool last = r.batch == r.batches_per_epoch;
    const bool milestone = last || r.batch % std::max<std::int64_t>(1, r.batches_per_epoch / 10) == 0;
    if (!due(milestone)) return;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * r.batch / std::max<std::int64_t>(1, r.batches_per_epoch));
    const std::string bar = std::string(filled, '=') + std::string(kWidth - filled, ' ');
    const long long eta = static_cast<long long>(r.eta_seconds);
    char line[200];
    std::snprintf(line, sizeof line, "epoch %lld/%lld [%s] %lld/%lld  loss %.4f  %.0f img/s  ETA %lldm%02llds",
                  static_cast<long long>(r.epoch + 1), static_cast<long long>(r.epochs), bar.c_str(),
                  static_cast<long long>(r.batch), static_cast<long long>(r.batches_per_epoch), r.loss,
                  r.images_per_second, eta / 60, eta % 60);
    show(line);
  }

  // Whether a line is due now: on a TTY at most ~10 redraws a second, elsewhere at
  // milestones (every tenth of the work, say) or 30 s after the last line.
  bool due(bool milestone) {
    const auto now = std::chrono::steady_clock::now();
    const bool due = tty_ ? milestone || now - last_print_ >= std::chrono::milliseconds(100)
                          : milestone || now - last_print_ >= std::chrono::seconds(30);
    if (due) last_print_ = now;
    return due;
  }

  // Prints `line`: in place on a TTY, as a plain line otherwise.
  void show(const std::string& line) {
    if (tty_) {
      std::printf("\r%s\033[K", line.c_str());
      shown_ = true;
    } else {
      std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
  }

  // Ends the in-place line so the next output starts on a fresh one.
  void clear() {
    if (tty_ && shown_) std::printf("\r\033[K");
    shown_ = false;
    std::fflush(stdout);
  }

 private:
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_print_{};
};

}  // namespace cudl::cli
