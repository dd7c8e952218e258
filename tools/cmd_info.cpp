#include <cstdio>

#include "core/device.h"
#include "kernels/registry.h"
#include "tools/commands.h"

namespace cudl::cli {

int cmd_info(const Args& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::printf("usage: cudl info\n\nPrints how cudl was built, the device it would use, and the ops it has.\n");
    return 0;
  }
  std::printf("cudl built %s CUDA\n", CUDL_WITH_CUDA ? "with" : "without");
  std::printf("device: %s\n", describe(default_device()).c_str());
  if (!cuda_available()) std::printf("cuda: unavailable (%s)\n", cuda_unavailable_reason().c_str());
  std::printf("ops:");
  for (const auto& op : op_registry()) std::printf(" %s", op.name.c_str());
  std::printf("\n");
  return 0;
}

}  // namespace cudl::cli
