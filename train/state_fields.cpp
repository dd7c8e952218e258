#include "train/state_fields.h"

#include <cerrno>
#include <cstdlib>
#include <limits>

#include "core/error.h"

namespace cudl {

std::int64_t StateFields::integer(const char* key, std::int64_t lo, std::int64_t hi) const {
  const nlohmann::json& v = field(key);
  CUDL_CHECK(v.is_number_integer(), "training state ", path_, ": '", key, "' is not an integer");
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  // Above int64 is out of every range; clamp so the message shows it as such.
  const std::int64_t x =
      v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(kMax) ? kMax : v.get<std::int64_t>();
  CUDL_CHECK(lo <= x && x <= hi, "training state ", path_, ": '", key, "' is ", x, ", expected ", lo, " to ", hi,
             " for this run");
  return x;
}

double StateFields::number(const char* key, double lo, double hi) const {
  const nlohmann::json& v = field(key);
  CUDL_CHECK(v.is_number(), "training state ", path_, ": '", key, "' is not a number");
  const double x = v.get<double>();
  CUDL_CHECK(lo <= x && x <= hi, "training state ", path_, ": '", key, "' is ", x, ", expected ", lo, " to ", hi);
  return x;
}

std::uint64_t StateFields::decimal(const char* key) const {
  const nlohmann::json& v = field(key);
  const std::string text = v.is_string() ? v.get<std::string>() : "";
  CUDL_CHECK(!text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos,
             "training state ", path_, ": '", key, "' is not a decimal string of digits");
  errno = 0;
  const std::uint64_t x = std::strtoull(text.c_str(), nullptr, 10);
  CUDL_CHECK(errno != ERANGE, "training state ", path_, ": '", key, "' ", text, " does not fit 64 bits");
  return x;
}

const nlohmann::json& StateFields::field(const char* key) const {
  CUDL_CHECK(state_.is_object() && state_.contains(key), "training state ", path_, ": no '", key, "'");
  return state_.at(key);
}

}  // namespace cudl
