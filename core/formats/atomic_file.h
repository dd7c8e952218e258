// Atomic file replacement: write to "<path>.tmp.<pid>" in the same folder, flush
// and fsync, then rename over `path`. A kill at any moment leaves either the old
// file or the new one, never a torn one.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace cudl {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace cudl
