// What the `cudl train` tasks share: run folder names, the saved command line that
// --resume replays, durations for humans, and Ctrl-C that stops a run cleanly.
#pragma once

#include <filesystem>
#include <string>

#include "tools/commands.h"

namespace cudl::cli {

std::string timestamp();                  // "20250101-120000", local time
std::string format_seconds(double s);     // "12.3s", "4m05s"

// The arguments that define a run, saved so --resume can rebuild it: all but
// where it goes (--out), whether it resumes and where it stops (--max-steps).
Args run_defining_args(const Args& args);
void save_run_args(const std::filesystem::path& run_dir, const Args& args);  // args.json
// The args.json of a run folder; UsageError when there is none.
Args saved_run_args(const std::filesystem::path& run_dir);

// Ctrl-C: after catch_interrupts() the first sets interrupted() (the run saves its
// state and stops after the current step), a second ends the process at once.
void catch_interrupts();
void release_interrupts();  // the default handler again
bool interrupted();

}  // namespace cudl::cli
