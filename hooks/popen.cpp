// popen, pclose: glibc's, with the child waited for green. glibc's pclose waits inside libc
// (past the hooks) and would block the hub thread until the command exits. A stream this file
// opened is a pipe end under fdopen and a pid; pclose closes it and waits with a wait that parks.
// Streams opened before the library started (or by glibc itself) go to glibc's pclose.
#include "fd_table.hpp"
#include "hook.hpp"

#include <cstdio>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace green;

extern char** environ;

namespace {

struct command_stream {
    FILE* stream;
    pid_t pid;
};

spinlock streams_lock;
std::vector<command_stream>* streams;  // never freed: streams may be closed in atexit handlers

FILE* open_command(const char* command, const char* mode)
{
    bool reading = false, writing = false, cloexec = false;
    for (const char* m = mode; *m; ++m) {
        switch (*m) {
        case 'r': reading = true; break;
        case 'w': writing = true; break;
        case 'e': cloexec = true; break;
        default: errno = EINVAL; return nullptr;
        }
    }
    if (reading == writing) {
        errno = EINVAL;
        return nullptr;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        return nullptr;
    int parent_end = reading ? fds[0] : fds[1];
    int child_end = reading ? fds[1] : fds[0];
    int child_std = reading ? STDOUT_FILENO : STDIN_FILENO;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 onto the same number clears close-on-exec (glibc >= 2.29, as POSIX asks).
    posix_spawn_file_actions_adddup2(&actions, child_end, child_std);
    {
        // POSIX: the streams of earlier popen calls still open are closed in the new child.
        spinlock_guard g(streams_lock);
        if (streams)
            for (const command_stream& s : *streams) {
                int fd = fileno(s.stream);
                if (fd >= 0 && fd != child_std)
                    posix_spawn_file_actions_addclose(&actions, fd);
            }
    }
    char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(command),
                    nullptr};
    pid_t pid = 0;
    int r = ::posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(child_end);
    if (r != 0) {
        ::close(parent_end);
        errno = r;
        return nullptr;
    }
    if (!cloexec)
        ::fcntl(parent_end, F_SETFD, 0);
    FILE* stream = fdopen(parent_end, reading ? "r" : "w");
    if (!stream) {
        int saved = errno;
        ::close(parent_end);
        while (::waitpid(pid, nullptr, 0) == -1 && errno == EINTR) {
        }
        errno = saved;
        return nullptr;
    }
    spinlock_guard g(streams_lock);
    if (!streams)
        streams = new std::vector<command_stream>();
    streams->push_back({stream, pid});
    return stream;
}

// The pid of a stream open_command made, taken off the list; 0 if it is not one of them.
pid_t take_stream(FILE* stream)
{
    spinlock_guard g(streams_lock);
    if (!streams)
        return 0;
    for (auto it = streams->begin(); it != streams->end(); ++it)
        if (it->stream == stream) {
            pid_t pid = it->pid;
            streams->erase(it);
            return pid;
        }
    return 0;
}

}  // namespace

GREEN_HOOK FILE* popen(const char* command, const char* mode)
{
    if (!hooks::green_caller())
        return GREEN_REAL(popen)(command, mode);
    return open_command(command, mode);
}

GREEN_HOOK int pclose(FILE* stream)
{
    // Not a call a vfork child or a signal handler makes; if one does, it gets libc's.
    if (hooks::raw_caller())
        return GREEN_REAL(pclose)(stream);
    pid_t pid = stream ? take_stream(stream) : 0;
    if (pid == 0) {
        // glibc's own stream: it closes the fd inside libc, past the close hook.
        if (stream) {
            int fd = fileno(stream);
            if (fd >= 0)
                fd_table::note_close(fd);
        }
        return GREEN_REAL(pclose)(stream);
    }
    ::fclose(stream);
    int status;
    pid_t r;
    while ((r = ::waitpid(pid, &status, 0)) == -1 && errno == EINTR) {
    }
    return r == pid ? status : -1;
}
