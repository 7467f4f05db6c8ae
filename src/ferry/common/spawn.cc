#include "ferry/common/spawn.h"

#include <signal.h>

namespace ferry {

SpawnAttributes::SpawnAttributes(bool own_process_group) {
  posix_spawnattr_init(&attr_);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr_, &none);
  posix_spawnattr_setsigdefault(&attr_, &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (own_process_group) {
    posix_spawnattr_setpgroup(&attr_, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attr_, flags);
}

SpawnAttributes::~SpawnAttributes() { posix_spawnattr_destroy(&attr_); }

}  // namespace ferry
