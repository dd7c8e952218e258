// One training process per run folder.
//
//   RunFolderLock lock(run_dir);  // throws cudl::Error when another live process holds it
//
// Every `cudl train ...` command takes it on its --out folder before writing
// anything there; two runs sharing a folder would otherwise interleave their
// checkpoints and args.json and both report success. The lock is an flock(2) on
// "<dir>/lock", which holds the owner's pid for the message: the kernel releases
// it when its process dies (even by kill -9), so a stale lock file left by a dead
// run is simply taken over. Taking it also removes the partial "*.tmp.<pid>"
// files that killed runs left behind (core/formats/atomic_file.h).
#pragma once

#include <filesystem>

namespace cudl {

class RunFolderLock {
 public:
  // Creates `dir` if needed.
  explicit RunFolderLock(const std::filesystem::path& dir);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

  const std::filesystem::path& path() const { return path_; }  // the lock file

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace cudl
