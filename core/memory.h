// Byte-level copies and fills between host and device memory. All device work is
// queued on the device's stream; a copy to the host waits for it to finish.
#pragma once

#include <cstddef>

#include "core/device.h"

namespace cudl {

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);
void fill_f32(float* dst, Device device, std::size_t count, float value);
void zero_bytes(void* dst, Device device, std::size_t bytes);

}  // namespace cudl
