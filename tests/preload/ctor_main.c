/* main side of the constructor test: by now ctor_lib's constructor has run. */
#include "transcript.h"

#include <unistd.h>

int ctor_lib_steps(void);

int main(void)
{
    char buf[32];
    int p[2];
    long n;
    say("main: ctor lines written: %d", ctor_lib_steps());
    CALL(pipe(p));
    say("fds %d %d", p[0], p[1]);
    CALL(write(p[1], "in main", 7));
    n = CALL(read(p[0], buf, dyn(sizeof buf)));
    show_bytes("read", buf, n);
    CALL(usleep(1000));
    CALL(close(p[0]));
    CALL(close(p[1]));
    say("done");
    return 0;
}
