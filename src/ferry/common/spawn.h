#pragma once
// SpawnAttributes: the posix_spawn attributes of a child of a server whose
// threads block (and may ignore) signals: the child starts with no signal
// blocked and every disposition at its default, and, when asked, in a
// process group of its own, so that killing the group stops whatever the
// child started too.
//
// Thread-safety: one object per spawn.

#include <spawn.h>

namespace ferry {

class SpawnAttributes {
 public:
  explicit SpawnAttributes(bool own_process_group);
  ~SpawnAttributes();
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;

  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

}  // namespace ferry
