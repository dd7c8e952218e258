#include "core/cpu_threads.h"

#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

namespace cudl {

namespace {

// The cgroup quota in CPUs (e.g. 1.5), or 0 when there is none.
double cgroup_cpu_quota() {
  // v2: "max 100000" or "<quota> <period>"
  if (std::ifstream v2("/sys/fs/cgroup/cpu.max"); v2) {
    std::string quota;
    double period = 0;
    if (v2 >> quota >> period && quota != "max" && period > 0) return std::strtod(quota.c_str(), nullptr) / period;
    return 0;
  }
  // v1: a quota of -1 means none
  std::ifstream quota_file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), period_file("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double quota = 0, period = 0;
  if (quota_file >> quota && period_file >> period && quota > 0 && period > 0) return quota / period;
  return 0;
}

}  // namespace

int usable_cpus() {
  int cpus = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
  if (cpus <= 0) cpus = omp_get_num_procs();
  if (const double quota = cgroup_cpu_quota(); quota > 0) cpus = std::min(cpus, static_cast<int>(std::ceil(quota)));
  return std::max(cpus, 1);
}

int set_cpu_threads(int requested) {
  if (requested <= 0 && std::getenv("OMP_NUM_THREADS") != nullptr) return omp_get_max_threads();
  const int threads = requested > 0 ? requested : usable_cpus();
  omp_set_num_threads(threads);
  return threads;
}

}  // namespace cudl
