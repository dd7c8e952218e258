#include "core/formats/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace cudl {

namespace {

constexpr const char* kTempMarker = ".tmp.";

std::string temp_path(const std::string& path) { return path + kTempMarker + std::to_string(::getpid()); }

// fsync through a fresh descriptor: std::ofstream does not expose its own.
void fsync_path(const std::string& path, int flags, const std::string& target) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) detail::throw_error(target, ": cannot open ", path, " to sync it: ", std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) detail::throw_error(target, ": fsync of ", path, " failed: ", std::strerror(err));
}

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string temp = temp_path(path);
  try {
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      if (!out) detail::throw_error(path, ": cannot create ", temp, ": ", std::strerror(errno));
      write(out);
      out.flush();
      if (!out) detail::throw_error(path, ": writing ", temp, " failed (disk full?)");
    }
    fsync_path(temp, O_RDONLY, path);
    if (std::rename(temp.c_str(), path.c_str()) != 0)
      detail::throw_error(path, ": cannot rename ", temp, " over it: ", std::strerror(errno));
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
  // Make the rename itself durable.
  std::string folder = std::filesystem::path(path).parent_path().string();
  fsync_path(folder.empty() ? "." : folder, O_RDONLY | O_DIRECTORY, path);
}

int remove_stale_temporaries(const std::string& folder) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    const std::size_t marker = name.rfind(kTempMarker);
    if (marker == std::string::npos || !entry.is_regular_file(ec)) continue;
    const std::string digits = name.substr(marker + std::strlen(kTempMarker));
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    // kill(pid, 0) fails with ESRCH only when no such process exists.
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (std::filesystem::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

}  // namespace cudl
