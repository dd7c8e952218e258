#include "train/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/formats/atomic_file.h"

namespace cudl {

namespace fs = std::filesystem;

RunFolderLock::RunFolderLock(const fs::path& dir) : path_(dir / "lock") {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) detail::throw_error("run folder ", dir.string(), ": cannot create it: ", ec.message());
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) detail::throw_error("run folder ", dir.string(), ": cannot open ", path_.string(), ": ", std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char owner[32] = {};
    const ssize_t n = ::pread(fd_, owner, sizeof owner - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      detail::throw_error("run folder ", dir.string(), " is in use by another cudl process (pid ",
                          n > 0 ? std::string(owner, static_cast<std::size_t>(n)) : std::string("unknown"),
                          ", lock file ", path_.string(), "); wait for it to end or choose another --out");
    detail::throw_error("run folder ", dir.string(), ": cannot lock ", path_.string(), ": ", std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    detail::throw_error("run folder ", dir.string(), ": cannot write ", path_.string(), ": ", std::strerror(err));
  }
  remove_stale_temporaries(dir.string());
}

// The lock file stays: unlinking it while another process has it open would let
// two processes lock two different files of the same name.
RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace cudl
