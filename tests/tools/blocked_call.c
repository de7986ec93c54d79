/* A program whose calls must block the hub thread: waitpid with WUNTRACED waits for stops,
 * which no pidfd reports, so the runtime makes it natively, twice. GREEN_STATS must name it,
 * and green_read_stats must count it. */
#include <green.h>

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0) {
            usleep(20000);
            _exit(3);
        }
        int status = 0;
        if (waitpid(pid, &status, WUNTRACED) != pid)
            return 2;
        printf("child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    struct green_stats s;
    green_read_stats(&s);
    printf("blocked_calls = %llu\n", (unsigned long long)s.blocked_calls);
    return 0;
}
