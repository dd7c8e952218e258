// How many CPU threads cudl should run: the CPUs this process may actually use,
// not the machine's core count. In a container with a CPU quota, or pinned to
// some cores, more OpenMP threads than that only take turns and wait on each other.
#pragma once

namespace cudl {

// The CPUs of this process's affinity mask (sched_getaffinity), capped by a
// cgroup CPU quota (v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us)
// rounded up; at least 1.
int usable_cpus();

// Sets the OpenMP thread count (which BLIS shares, kernels/cpu/gemm.cpp):
// `requested` when > 0, else OMP_NUM_THREADS when set, else usable_cpus().
// Returns the count in effect.
int set_cpu_threads(int requested = 0);

}  // namespace cudl
