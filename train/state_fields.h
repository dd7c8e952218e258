// Reading a saved training state's fields (Solver::load_state), each checked
// against what this run allows: a state from another run, or a hand-edited
// one, must fail with the field's name, not train nonsense (epoch -5 used to
// train epochs -4..1 at lr 0).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace cudl {

class StateFields {
 public:
  // `state` and `path` (for messages) must outlive this.
  StateFields(const nlohmann::json& state, const std::string& path) : state_(state), path_(path) {}

  // Throws cudl::Error "training state <path>: '<key>' ..." when missing, of
  // another type, or outside [lo, hi].
  std::int64_t integer(const char* key, std::int64_t lo, std::int64_t hi) const;
  double number(const char* key, double lo, double hi) const;
  // An unsigned 64-bit integer saved as a decimal string (JSON numbers lose
  // precision above 2^53).
  std::uint64_t decimal(const char* key) const;
  const nlohmann::json& field(const char* key) const;

 private:
  const nlohmann::json& state_;
  const std::string& path_;
};

}  // namespace cudl
