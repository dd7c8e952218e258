#include "tools/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace cudl::cli {

std::int64_t parse_int(const std::string& flag, const std::string& text, std::int64_t min_value,
                       std::int64_t max_value) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') throw UsageError(flag + " expects an integer, got '" + text + "'");
  if (errno == ERANGE || v < min_value || v > max_value)
    throw UsageError(flag + " must be " +
                     (max_value == std::numeric_limits<std::int64_t>::max()
                          ? ">= " + std::to_string(min_value)
                          : "between " + std::to_string(min_value) + " and " + std::to_string(max_value)) +
                     ", got " + text);
  return v;
}

double parse_float(const std::string& flag, const std::string& text, double min_value, bool min_inclusive) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    throw UsageError(flag + " expects a number, got '" + text + "'");
  if (v < min_value || (!min_inclusive && v == min_value)) {
    std::ostringstream s;
    s << flag << " must be " << (min_inclusive ? ">= " : "> ") << min_value << ", got " << text;
    throw UsageError(s.str());
  }
  return v;
}

std::vector<std::int64_t> parse_int_list(const std::string& flag, const std::string& text, std::int64_t max_value) {
  std::vector<std::int64_t> values;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');) values.push_back(parse_int(flag, item, 1, max_value));
  if (values.empty()) throw UsageError(flag + " expects a comma-separated list of integers, got '" + text + "'");
  return values;
}

std::vector<double> parse_float_list(const std::string& flag, const std::string& text, double min_value) {
  std::vector<double> values;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');) values.push_back(parse_float(flag, item, min_value));
  if (values.empty()) throw UsageError(flag + " expects a comma-separated list of numbers, got '" + text + "'");
  return values;
}

std::string parse_choice(const std::string& flag, const std::string& text, const std::vector<std::string>& choices) {
  std::string all;
  for (const auto& c : choices) {
    if (c == text) return text;
    all += (all.empty() ? "" : ", ") + c;
  }
  throw UsageError(flag + " must be one of " + all + ", got '" + text + "'");
}

FlagParser::FlagParser(std::string command, std::string usage, std::string description)
    : command_(std::move(command)), usage_(std::move(usage)), description_(std::move(description)) {}

void FlagParser::add(std::string name, std::string metavar, std::string help, std::string default_text,
                     std::function<void(const std::string&)> set) {
  flags_.push_back({std::move(name), std::move(metavar), std::move(help), std::move(default_text), std::move(set)});
}

void FlagParser::add_switch(std::string name, std::string help, bool* target) {
  flags_.push_back({std::move(name), "", std::move(help), "", nullptr, target});
}

std::vector<std::string> FlagParser::parse(const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      return positional;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    // "--flag=value" and "--flag value" both work.
    const std::size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const Flag* flag = nullptr;
    for (const Flag& f : flags_)
      if (f.name == name) flag = &f;
    if (flag == nullptr) throw UsageError("unknown flag '" + name + "'");
    if (flag->target != nullptr) {
      if (eq != std::string::npos) throw UsageError(name + " takes no value");
      *flag->target = true;
      continue;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      throw UsageError(name + " needs a value (" + flag->metavar + ")");
    }
    flag->set(value);
  }
  return positional;
}

std::string FlagParser::help() const {
  std::string out = "usage: " + command_ + " " + usage_ + "\n\n" + description_ + "\n\noptions:\n";
  for (const Flag& f : flags_) {
    std::string left = "  " + f.name + (f.metavar.empty() ? "" : " " + f.metavar);
    if (left.size() < 26) left += std::string(26 - left.size(), ' ');
    else left += "\n" + std::string(26, ' ');
    out += left + f.help + (f.default_text.empty() ? "" : " (default: " + f.default_text + ")") + "\n";
  }
  return out + "  -h, --help              this help\n";
}

void add_impl_flag(FlagParser& f, std::string& impl) {
  f.add("--impl", "NAME",
        "the variant of every op: auto (the fastest verified one on the device; cuDNN and cuBLAS\n"
        "                          where present), naive (the reference kernels) or fast (our own optimised kernels)",
        "auto", [&impl](const std::string& v) { impl = parse_choice("--impl", v, {"auto", "naive", "fast"}); });
}

}  // namespace cudl::cli
