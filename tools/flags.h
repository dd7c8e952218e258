// A small command-line flag parser shared by the subcommands.
//
//   FlagParser flags("cudl train", "convnet|fcnet [options]", "Trains ...");
//   flags.add("--epochs", "N", "passes over the training set", "5", [&](const std::string& v) {
//     epochs = parse_int("--epochs", v, 1); });
//   std::vector<std::string> positional = flags.parse(args);  // throws UsageError
//
// Unknown flags, missing values and bad values throw UsageError with a one-line
// message; the command prints it and exits with status 2.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace cudl::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An integer in [min_value, max_value], else UsageError naming the flag and the range:
// every integer flag goes through here, so no value can wrap when stored or multiplied.
std::int64_t parse_int(const std::string& flag, const std::string& text, std::int64_t min_value,
                       std::int64_t max_value = std::numeric_limits<std::int64_t>::max());
double parse_float(const std::string& flag, const std::string& text, double min_value, bool min_inclusive = true);
// "512,256": each item in [1, max_value].
std::vector<std::int64_t> parse_int_list(const std::string& flag, const std::string& text, std::int64_t max_value);
// "0,0.5,1": each item a parse_float value >= min_value.
std::vector<double> parse_float_list(const std::string& flag, const std::string& text, double min_value);
// `text` if it is one of `choices`, else UsageError listing them.
std::string parse_choice(const std::string& flag, const std::string& text, const std::vector<std::string>& choices);

class FlagParser;
// `--impl auto|naive|fast`: which variant of every op a training command runs
// (kernels/backend.h); the command wraps its work in an ImplScope of it.
void add_impl_flag(FlagParser& f, std::string& impl);

class FlagParser {
 public:
  FlagParser(std::string command, std::string usage, std::string description);
  // A flag taking a value: "--epochs N".
  void add(std::string name, std::string metavar, std::string help, std::string default_text,
           std::function<void(const std::string&)> set);
  // A switch without a value: "--resume".
  void add_switch(std::string name, std::string help, bool* target);

  // Positional arguments in order. Returns with help_requested() true on --help/-h.
  std::vector<std::string> parse(const std::vector<std::string>& args);
  bool help_requested() const { return help_requested_; }
  std::string help() const;
  const std::string& command() const { return command_; }

 private:
  struct Flag {
    std::string name, metavar, help, default_text;
    std::function<void(const std::string&)> set;
    bool* target = nullptr;  // switches
  };
  std::string command_, usage_, description_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

}  // namespace cudl::cli
