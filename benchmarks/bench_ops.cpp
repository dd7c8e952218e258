// cudl_bench: times every op x case x implementation x direction in the op registry.
//
// Benchmarks are registered at startup from op_registry(), so an op added there is
// timed here too. Names are "<op>/<case>/<forward|backward>/<implementation>"; each
// run's label lists the input shapes and attributes, and the counters FLOP/s and B/s
// come from the op's work for that direction. Inputs live on the device before timing
// starts (OpDef::make_timed), and one untimed call warms up; what is timed is the op
// call alone:
//   CPU:  wall-clock time of the call, on cudl's OpenMP threads (which BLIS shares).
//   CUDA: CUDA events around the call on cudl's stream, reported as manual time,
//         with the L2 cache flushed before every call.
//
// Own flags (the rest go to Google Benchmark):
//   --devices=cpu,cuda        which devices to time (default: all present)
//   --max_cpu_gflop=X         skip CPU cases whose forward pass exceeds X GFLOP
//   --max_cpu_naive_gflop=X   the same for the naive CPU implementation (default 4)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <omp.h>

#include "core/device.h"
#include "kernels/registry.h"
#if CUDL_WITH_CUDA
#include "core/cuda/context.h"
#endif

namespace {

using namespace cudl;

struct Options {
  bool cpu = true;
  bool cuda = true;
  double max_cpu_gflop = std::numeric_limits<double>::infinity();
  double max_cpu_naive_gflop = 4.0;
};

struct BenchSpec {
  int id;  // registration order
  const OpDef* op;
  const OpCase* c;
  Implementation impl;
  bool backward;
};

// The case's inputs with their shapes but no values: enough for flops()/bytes().
TensorMap shape_only_inputs(const OpCase& c) {
  TensorMap inputs;
  for (const InputSpec& spec : c.inputs)
    inputs.emplace(spec.name,
                   Tensor::empty(spec.shape, spec.kind == InputSpec::Kind::Labels ? DType::I64 : DType::F32));
  return inputs;
}

// "x=64x64x28x28 w=64x64x3x3 b=64 | pad=1 stride=1": lets reports match cases by shape.
std::string case_label(const OpCase& c) {
  std::string label;
  for (const InputSpec& spec : c.inputs) {
    std::string dims;
    for (std::int64_t d : spec.shape) dims += (dims.empty() ? "" : "x") + std::to_string(d);
    label += (label.empty() ? "" : " ") + spec.name + "=" + dims;
  }
  const std::string attrs = c.attrs.str();
  return attrs.empty() ? label : label + " | " + attrs;
}

#if CUDL_WITH_CUDA
// Times calls on cudl's stream with CUDA events. Before each call it overwrites a
// buffer larger than the L2 cache (50 MB on an H100), so no call finds its inputs
// left in L2 by the previous one.
class GpuTimer {
 public:
  explicit GpuTimer(Device device)
      : device_(device), flush_(Tensor::empty({kFlushBytes / 4}, DType::F32, device)) {
    CUDL_CUDA_CALL(cudaEventCreate(&start_));
    CUDL_CUDA_CALL(cudaEventCreate(&stop_));
  }
  ~GpuTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  GpuTimer(const GpuTimer&) = delete;
  GpuTimer& operator=(const GpuTimer&) = delete;

  double seconds(const std::function<void()>& call) {
    cudaStream_t stream = cuda::stream(device_.index);
    CUDL_CUDA_CALL(cudaMemsetAsync(flush_.data<float>(), 0, kFlushBytes, stream));
    CUDL_CUDA_CALL(cudaEventRecord(start_, stream));
    call();
    CUDL_CUDA_CALL(cudaEventRecord(stop_, stream));
    CUDL_CUDA_CALL(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    CUDL_CUDA_CALL(cudaEventElapsedTime(&ms, start_, stop_));
    return ms * 1e-3;
  }

 private:
  static constexpr std::int64_t kFlushBytes = 256LL << 20;
  Device device_;
  Tensor flush_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};
#endif

// One benchmark's inputs on its device and the call to time, set up (and warmed up)
// once: Google Benchmark invokes a benchmark several times (to size the iteration
// count, once per repetition), and benchmarks run one after another, so the last
// one set up is kept and the previous one freed.
struct Prepared {
  int id = -1;
  TensorMap workspace;
  std::function<void()> call;
#if CUDL_WITH_CUDA
  std::unique_ptr<GpuTimer> timer;
#endif
};

// Emptied before main returns: its tensors must go back to the allocator before the
// allocator and the CUDA context are torn down.
Prepared prepared;

Prepared& prepare(const BenchSpec& spec) {
  if (prepared.id == spec.id) return prepared;
  prepared = Prepared{};  // free the previous benchmark's tensors first
  const Device device = spec.impl.device == DeviceType::CUDA ? Device::cuda(0) : Device::cpu();
  for (auto& [name, t] : make_inputs(*spec.c, /*seed=*/42))
    prepared.workspace.emplace(name, device.is_cpu() ? std::move(t) : t.to(device));
  prepared.call = spec.op->make_timed(prepared.workspace, spec.c->attrs, spec.impl.impl, spec.backward);
  prepared.call();  // warm-up: handles, workspaces, the caching allocator's blocks
  synchronize(device);
#if CUDL_WITH_CUDA
  if (device.is_cuda()) prepared.timer = std::make_unique<GpuTimer>(device);
#endif
  prepared.id = spec.id;
  return prepared;
}

void run_benchmark(benchmark::State& state, const BenchSpec& spec) {
  try {
    Prepared& p = prepare(spec);
    if (spec.impl.device == DeviceType::CPU) {
      for (auto _ : state) p.call();
    } else {
#if CUDL_WITH_CUDA
      for (auto _ : state) state.SetIterationTime(p.timer->seconds(p.call));
#endif
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

bool parse_flag(const char* arg, const char* name, std::string& value) {
  const std::size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  value = arg + n + 1;
  return true;
}

// Removes the flags above from argv (Google Benchmark rejects unknown ones).
Options parse_options(int& argc, char** argv) {
  Options options;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string value;
    if (parse_flag(argv[i], "--devices", value)) {
      options.cpu = value.find("cpu") != std::string::npos;
      options.cuda = value.find("cuda") != std::string::npos;
    } else if (parse_flag(argv[i], "--max_cpu_gflop", value)) {
      options.max_cpu_gflop = std::stod(value);
    } else if (parse_flag(argv[i], "--max_cpu_naive_gflop", value)) {
      options.max_cpu_naive_gflop = std::stod(value);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return options;
}

// Registers one benchmark per op x case x implementation x direction that the
// options and this machine allow.
void register_benchmarks(const Options& options) {
  const bool cuda = options.cuda && cuda_available();
  int next_id = 0;
  for (const OpDef& op : op_registry()) {
    if (!op.make_timed) {
      std::fprintf(stderr, "cudl_bench: %s has no make_timed entry, not benchmarked\n", op.name.c_str());
      continue;
    }
    for (const OpCase& c : op.cases) {
      const TensorMap shapes = shape_only_inputs(c);
      auto work = [&](const std::function<double(const TensorMap&, const Attrs&)>& f) {
        return f ? f(shapes, c.attrs) : 0.0;
      };
      const double forward_flops = work(op.flops);
      for (const Implementation& impl : op.implementations) {
        if (impl.device == DeviceType::CUDA ? !cuda : !options.cpu) continue;
        if (impl.device == DeviceType::CPU) {
          const bool naive = impl.kind == VariantKind::Naive;
          if (naive && c.large) continue;
          if (forward_flops * 1e-9 > (naive ? options.max_cpu_naive_gflop : options.max_cpu_gflop)) continue;
        }
        for (const bool backward : {false, true}) {
          if (backward && (op.is_loss || !op.has_backward)) continue;
          const std::string name =
              op.name + "/" + c.label + "/" + (backward ? "backward" : "forward") + "/" + impl.name;
          const BenchSpec spec{next_id++, &op, &c, impl, backward};
          const double flops = backward ? work(op.backward_flops) : forward_flops;
          const double bytes = work(backward ? op.backward_bytes : op.bytes);
          auto* b = benchmark::RegisterBenchmark(name.c_str(), [spec, flops, bytes](benchmark::State& state) {
            run_benchmark(state, spec);
            state.SetLabel(case_label(*spec.c));
            using C = benchmark::Counter;
            state.counters["FLOP/s"] = C(flops, C::kIsIterationInvariantRate, C::kIs1000);
            state.counters["B/s"] = C(bytes, C::kIsIterationInvariantRate, C::kIs1024);
          });
          b->Unit(benchmark::kMicrosecond);
          if (impl.device == DeviceType::CUDA)
            b->UseManualTime();
          else
            b->UseRealTime();
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("cudl_cpu_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext("cudl_blas", CUDL_BLAS_NAME);
  if (options.cuda && cuda_available()) benchmark::AddCustomContext("cudl_cuda_device", describe(Device::cuda(0)));
  register_benchmarks(options);
  benchmark::RunSpecifiedBenchmarks();
  prepared = Prepared{};
  benchmark::Shutdown();
  return 0;
}
