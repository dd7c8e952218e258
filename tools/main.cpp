// cudl: the command-line tool. `cudl --help` lists the commands.
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include <cstdlib>

#include "core/cpu_threads.h"
#include "core/error.h"
#include "tools/commands.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  std::function<int(const cudl::cli::Args&)> run;
};

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"info", "show the build configuration and the devices cudl can use", cudl::cli::cmd_info},
      {"golden", "check ops against PyTorch golden cases (files or folders)", cudl::cli::cmd_golden},
      {"train", "train a model: convnet, fcnet, gan, ddpm (Fashion-MNIST) or captioner (emoji, scenes, COCO)",
       cudl::cli::cmd_train},
      {"sample", "draw images from a trained generative model (cudl sample gan|ddpm)", cudl::cli::cmd_sample},
      {"eval", "test accuracy and confusion matrix of a checkpoint", cudl::cli::cmd_eval},
      {"inspect", "list the tensors in .safetensors, .npy and IDX files", cudl::cli::cmd_inspect},
      {"captions", "load a captioning dataset (emoji, scenes, coco): sizes and a captioned grid", cudl::cli::cmd_captions},
      {"caption", "captions of PNG images from a `cudl train captioner` checkpoint", cudl::cli::cmd_caption},
      {"score", "FID, Inception Score and label histogram of generated samples", cudl::cli::cmd_score},
  };
  return all;
}

void print_help() {
  std::printf(
      "cudl: a deep learning framework in C++20 and CUDA\n\n"
      "usage: cudl <command> [options]\n\ncommands:\n");
  for (const auto& c : commands()) std::printf("  %-8s %s\n", c.name, c.summary);
  std::printf("\n`cudl <command> --help` explains a command's options.\n");
}

// libgomp's idle threads spin about 300,000 iterations before sleeping. With
// other processes on the cores, a spinning thread burns the time slice its
// partner needs to reach the barrier, and training slows far more than the CPU
// share lost (issue #14). The spin is read from the environment once, when the
// runtime loads, so a bounded one is set and the binary re-executed (once: the
// variable is then set). OMP_WAIT_POLICY or GOMP_SPINCOUNT given by the user win.
constexpr const char* kSpinCount = "20000";

void relaunch_with_bounded_spin(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (::setenv("GOMP_SPINCOUNT", kSpinCount, 0) != 0) return;
  ::execv("/proc/self/exe", argv);  // returns only on failure: run on with the default spin
}

}  // namespace

int main(int argc, char** argv) {
  relaunch_with_bounded_spin(argv);
  cudl::set_cpu_threads();
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  for (const auto& c : commands()) {
    if (name != c.name) continue;
    try {
      return c.run(cudl::cli::Args(argv + 2, argv + argc));
    } catch (const cudl::Error& e) {
      std::fprintf(stderr, "cudl %s: error: %s\n", c.name, e.what());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cudl %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "cudl: unknown command '%s' (see cudl --help)\n", name.c_str());
  return 2;
}
