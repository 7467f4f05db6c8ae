#pragma once
// DataDirLock: one server per data dir. An flock(2) on <data-dir>/ferry.lock,
// held for the life of the process and released by the kernel on any exit,
// kill -9 included, so a stale lock never blocks a restart. The file holds
// the holder's pid for the error message a second server prints.
//
// Thread-safety: not thread-safe; acquire once at start-up.

#include <memory>
#include <string>

#include "ferry/common/status.h"

namespace ferry::server {

class DataDirLock {
 public:
  // Creates the data dir (0700) if needed. FailedPrecondition naming the
  // holder's pid when another process holds the lock.
  static Result<std::unique_ptr<DataDirLock>> Acquire(const std::string& data_dir);
  ~DataDirLock();

  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace ferry::server
