// Waits for file locks (flock, lockf, fcntl F_SETLKW and F_OFD_SETLKW): file_locks.cpp.
#pragma once

namespace green::hooks {

// fcntl's F_SETLKW and F_OFD_SETLKW for a green caller: tried without waiting first, and when
// another holder keeps the lock, the call as the program made it runs on the offload pool.
// `real` is the libc fcntl (or fcntl64) to call; any other command goes straight to it.
int lock_wait_fcntl(int (*real)(int, int, ...), int fd, int cmd, void* arg);

// Whether cmd is one of the waiting lock commands lock_wait_fcntl handles.
inline bool is_lock_wait(int cmd) { return cmd == 7 /* F_SETLKW */ || cmd == 38 /* F_OFD_SETLKW */; }

}  // namespace green::hooks
