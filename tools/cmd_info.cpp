#include <cstdio>

#include "core/device.h"
#include "kernels/registry.h"
#include "tools/commands.h"

namespace cudl::cli {

int cmd_info(const Args& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::printf(
        "usage: cudl info\n\nPrints how cudl was built, the device it would use, and each op with its\n"
        "variants (the names `cudl golden --impl` takes), each device's fastest first: `Auto` runs\n"
        "the first one on the inputs' device.\n");
    return 0;
  }
  std::printf("cudl built %s CUDA%s\n", CUDL_WITH_CUDA ? "with" : "without",
              CUDL_WITH_CUDA ? (CUDL_WITH_CUDNN ? " and cuDNN" : ", without cuDNN") : "");
  std::printf("device: %s\n", describe(default_device()).c_str());
  if (!cuda_available()) std::printf("cuda: unavailable (%s)\n", cuda_unavailable_reason().c_str());
  std::printf("ops and their variants:\n");
  for (const auto& op : op_registry()) {
    std::printf("  %-30s", op.name.c_str());
    for (const Implementation& row : op.implementations) std::printf(" %s", row.name.c_str());
    std::printf("\n");
  }
  return 0;
}

}  // namespace cudl::cli
