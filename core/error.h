// cudl::Error and the checks that raise it.
//
// Every op validates its arguments and throws cudl::Error whose message starts
// with the op's name and says what it expected and what it got, e.g.
//   conv2d: x has 3 channels but w expects 4 (x [2,3,8,8], w [5,4,3,3])
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace cudl {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
[[noreturn]] void throw_error(const Args&... args) {
  std::ostringstream message;
  (message << ... << args);
  throw Error(message.str());
}
}  // namespace detail

}  // namespace cudl

// CUDL_CHECK(cond, "op: ", "what was expected, ", "what came") throws cudl::Error
// with the concatenated pieces when cond is false.
#define CUDL_CHECK(cond, ...)                    \
  do {                                           \
    if (!(cond)) ::cudl::detail::throw_error(__VA_ARGS__); \
  } while (0)
