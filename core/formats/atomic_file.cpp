#include "core/formats/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace cudl {

namespace {

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
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
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

}  // namespace cudl
