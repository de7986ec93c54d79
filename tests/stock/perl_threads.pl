# A Perl ithreads server's shape: worker threads wait on a queue, the main thread waits for
# SIGTERM and SIGINT, which another process sends, then stops the workers and joins them.
# Perl's threads module blocks every signal in each new thread, so only the main thread leaves
# them open: natively the kernel delivers to it, and under green-run its own mask must lead the
# hub to it.
use strict;
use warnings;
use threads;
use Thread::Queue;
use POSIX ();

$| = 1;
my $jobs = Thread::Queue->new;
my @workers = map {
    my $n = $_;
    threads->create(sub {
        my $done = 0;
        while (defined(my $job = $jobs->dequeue)) {
            $done += $job;
        }
        return "worker $n summed $done";
    });
} 1 .. 4;

my @got;
$SIG{TERM} = sub { push @got, 'TERM' };
$SIG{INT} = sub { push @got, 'INT' };

$jobs->enqueue($_) for 1 .. 100;
my $parent = $$;
for my $sig ('TERM', 'INT') {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        select(undef, undef, undef, 0.2);
        kill $sig, $parent;
        POSIX::_exit(0);  # not perl's exit, which would warn of the threads it copied
    }
    # sleep ends early when the handler runs; a signal left pending would sleep it out.
    my $slept = sleep 20;
    waitpid $pid, 0;
    print "sleep ended by a handler: ", ($slept < 20 ? "yes" : "no"), "; handled so far: @got\n";
}
$jobs->end;
my $total = 0;
for my $w (@workers) {
    my $r = $w->join;
    $total += (split ' ', $r)[-1];
}
print "workers joined; total $total\n";
exit 0;
