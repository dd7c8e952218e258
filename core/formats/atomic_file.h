// Atomic file replacement: write to "<path>.tmp.<pid>" in the same folder, flush
// and fsync, then rename over `path`. A kill at any moment leaves either the old
// file or the new one, never a torn one.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace cudl {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// Removes the "<name>.tmp.<pid>" files in `folder` whose process is gone: what a
// kill -9 in the middle of write_file_atomic leaves. Returns how many it removed.
int remove_stale_temporaries(const std::string& folder);

}  // namespace cudl
