#include "tools/run_folder.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/formats/atomic_file.h"
#include "core/formats/json.h"

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

namespace {
// Data flags are stored with absolute paths, so a resume from another directory
// finds the same files. A value may also name a source ("emoji", "scenes"), which
// stays as it is unless a file of that name exists, or prefix a path with its
// kind ("coco:DIR"), whose path part is made absolute.
const char* const kPathFlags[] = {"--data", "--fashion-mnist"};

std::string stored_path(const std::string& value) {
  namespace fs = std::filesystem;
  const std::size_t colon = value.find(':');
  if (colon != std::string::npos && colon > 0 && value.find('/') > colon)
    return value.substr(0, colon + 1) + stored_path(value.substr(colon + 1));
  if (value.find('/') == std::string::npos && !fs::exists(value)) return value;
  return fs::absolute(value).string();
}
}  // namespace

Args run_defining_args(const Args& args) {
  Args kept;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--resume") continue;
    if (args[i] == "--out" || args[i] == "--max-steps") {
      ++i;
      continue;
    }
    if (args[i].starts_with("--out=") || args[i].starts_with("--max-steps=")) continue;
    bool path_flag = false;
    for (const std::string flag : kPathFlags) {
      if (args[i] == flag && i + 1 < args.size()) {
        kept.push_back(flag + "=" + stored_path(args[++i]));
      } else if (args[i].starts_with(flag + "=")) {
        kept.push_back(flag + "=" + stored_path(args[i].substr(flag.size() + 1)));
      } else {
        continue;
      }
      path_flag = true;
      break;
    }
    if (!path_flag) kept.push_back(args[i]);
  }
  return kept;
}

void save_run_args(const std::filesystem::path& run_dir, const Args& args) {
  const std::string text = nlohmann::json(run_defining_args(args)).dump() + "\n";
  write_file_atomic((run_dir / "args.json").string(), [&](std::ostream& out) { out << text; });
}

Args saved_run_args(const std::filesystem::path& run_dir) {
  const std::filesystem::path path = run_dir / "args.json";
  std::ifstream in(path);
  if (!in) throw UsageError("--resume: no args.json in '" + run_dir.string() + "' (not a cudl run folder?)");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const nlohmann::json saved = formats::parse_json(text, path.string());
  CUDL_CHECK(saved.is_array() && std::all_of(saved.begin(), saved.end(), [](const auto& a) { return a.is_string(); }),
             path.string(), ": expected a JSON array of argument strings, got ", formats::json_excerpt(saved));
  return saved.get<Args>();
}

void catch_interrupts() { std::signal(SIGINT, on_sigint); }
void release_interrupts() { std::signal(SIGINT, SIG_DFL); }
bool interrupted() { return g_interrupted.load(); }

}  // namespace cudl::cli
