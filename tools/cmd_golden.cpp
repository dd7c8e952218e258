#include <cstdio>

#include "tools/commands.h"

namespace cudl::cli {

int cmd_golden(const Args& args) {
  std::fprintf(stderr, "cudl golden: not built yet\n");
  return 1;
}

}  // namespace cudl::cli
