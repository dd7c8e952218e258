#include "tools/run_folder.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tools/flags.h"

namespace cudl::cli {

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}
}  // namespace

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::localtime(&now));
  return buf;
}

std::string format_seconds(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return buf;
}

Args run_defining_args(const Args& args) {
  Args kept;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--resume") continue;
    if (args[i] == "--out" || args[i] == "--max-steps") {
      ++i;
      continue;
    }
    if (args[i].starts_with("--out=") || args[i].starts_with("--max-steps=")) continue;
    kept.push_back(args[i]);
  }
  return kept;
}

void save_run_args(const std::filesystem::path& run_dir, const Args& args) {
  std::ofstream(run_dir / "args.json") << nlohmann::json(run_defining_args(args)).dump() << "\n";
}

Args saved_run_args(const std::filesystem::path& run_dir) {
  std::ifstream saved(run_dir / "args.json");
  if (!saved) throw UsageError("--resume: no args.json in '" + run_dir.string() + "' (not a cudl run folder?)");
  return nlohmann::json::parse(saved).get<Args>();
}

void catch_interrupts() { std::signal(SIGINT, on_sigint); }
void release_interrupts() { std::signal(SIGINT, SIG_DFL); }
bool interrupted() { return g_interrupted.load(); }

}  // namespace cudl::cli
