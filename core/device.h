// Where a tensor lives, and what the process can run on.
#pragma once

#include <cstdint>
#include <string>

namespace cudl {

enum class DeviceType : std::uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  friend bool operator==(const Device&, const Device&) = default;
};

// Parses "cpu", "cuda", "cuda:1" and "auto" (the best device present).
Device parse_device(const std::string& name);

// True when this build has the CUDA backend and a usable device and driver.
// Never throws: no GPU or an old driver simply means false.
bool cuda_available();
// Why cuda_available() is false ("built without CUDA", "no CUDA device", the
// driver's error string), or "" when it is true.
std::string cuda_unavailable_reason();
int cuda_device_count();

// cuda:0 when a GPU is usable, else cpu.
Device default_device();
// A line for logs: "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB)" or "cpu (2 threads)".
std::string describe(Device device);
// Waits for all queued work on the device (no-op on the CPU).
void synchronize(Device device);

}  // namespace cudl
