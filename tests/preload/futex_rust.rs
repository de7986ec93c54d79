// Rust's std threads and their waits (Mutex, Condvar, RwLock, Barrier, mpsc, park/unpark,
// OnceLock: all futex waits through libc's syscall()), thread_local! with destructors, scoped
// threads, and a thread-per-connection TCP echo server with 1,000 connections on loopback.
//
// Every result is also asserted, so a native run checks itself. The transcript is deterministic: threads record what they saw and main prints it after
// joining. While waiters block, a ticker thread sleeps ten times and they are released only
// after it is done, so a wait that blocked its hub thread would stop the program.
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Condvar, Mutex, OnceLock, RwLock};
use std::thread;
use std::time::{Duration, Instant};

static TICKS: AtomicUsize = AtomicUsize::new(0);

fn tick_then<F: FnOnce()>(release: F) {
    TICKS.store(0, Ordering::SeqCst);
    thread::spawn(|| {
        for i in 0..10 {
            thread::sleep(Duration::from_millis(5));
            TICKS.store(i + 1, Ordering::SeqCst);
        }
    })
    .join()
    .unwrap();
    release();
}

fn after_ticker() -> usize {
    (TICKS.load(Ordering::SeqCst) == 10) as usize
}

fn mutex_condvar() {
    let state = Arc::new((Mutex::new(0u32), Condvar::new()));
    let released = Arc::new(AtomicUsize::new(0));
    let ts: Vec<_> = (0..4)
        .map(|_| {
            let (state, released) = (state.clone(), released.clone());
            thread::spawn(move || {
                let (m, cv) = &*state;
                let mut go = m.lock().unwrap();
                while *go == 0 {
                    go = cv.wait(go).unwrap();
                }
                released.fetch_add(after_ticker(), Ordering::SeqCst);
            })
        })
        .collect();
    tick_then(|| {
        *state.0.lock().unwrap() = 1;
        state.1.notify_all();
    });
    for t in ts {
        t.join().unwrap();
    }
    println!("Mutex+Condvar: {} waiters released after the ticker", released.load(Ordering::SeqCst));
    assert_eq!(released.load(Ordering::SeqCst), 4);

    // Mutex contention: 4 threads, 10,000 increments each, sleeping now and then inside.
    let counter = Arc::new(Mutex::new(0u64));
    let ts: Vec<_> = (0..4)
        .map(|_| {
            let counter = counter.clone();
            thread::spawn(move || {
                for i in 0..10_000 {
                    let mut c = counter.lock().unwrap();
                    *c += 1;
                    if i % 2500 == 0 {
                        thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    println!("Mutex: counter {}", *counter.lock().unwrap());
    assert_eq!(*counter.lock().unwrap(), 40_000);

    let (m, cv) = (Mutex::new(()), Condvar::new());
    let t0 = Instant::now();
    let (_g, r) = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(30)).unwrap();
    let timed_out = r.timed_out() && t0.elapsed() >= Duration::from_millis(29);
    println!("Condvar: wait_timeout(30 ms) timed out: {}", timed_out);
    assert!(timed_out);
}

fn rwlock_barrier() {
    let lock = Arc::new(RwLock::new(0u32));
    let in_after = Arc::new(AtomicUsize::new(0));
    let writer = lock.write().unwrap();
    let ts: Vec<_> = (0..4)
        .map(|i| {
            let (lock, in_after) = (lock.clone(), in_after.clone());
            thread::spawn(move || {
                if i == 0 {
                    *lock.write().unwrap() += 1;
                } else {
                    let _r = lock.read().unwrap();
                }
                in_after.fetch_add(after_ticker(), Ordering::SeqCst);
            })
        })
        .collect();
    tick_then(|| drop(writer));
    for t in ts {
        t.join().unwrap();
    }
    println!("RwLock: {} readers and writers got in after the ticker", in_after.load(Ordering::SeqCst));
    assert_eq!(in_after.load(Ordering::SeqCst), 4);

    let barrier = Arc::new(Barrier::new(4));
    let leaders = Arc::new(AtomicUsize::new(0));
    let ts: Vec<_> = (0..4)
        .map(|i| {
            let (barrier, leaders) = (barrier.clone(), leaders.clone());
            thread::spawn(move || {
                for _ in 0..3 {
                    if i == 0 {
                        thread::sleep(Duration::from_millis(10));
                    }
                    if barrier.wait().is_leader() {
                        leaders.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    println!("Barrier: 3 rounds, {} leaders", leaders.load(Ordering::SeqCst));
    assert_eq!(leaders.load(Ordering::SeqCst), 3);
}

fn channels_park_once() {
    let (tx, rx) = mpsc::channel::<u64>();
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..1000 {
                    tx.send(p * 1000 + i).unwrap();
                    if i % 250 == 0 {
                        thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let sum: u64 = rx.iter().sum();
    for p in producers {
        p.join().unwrap();
    }
    println!("mpsc: 4,000 messages, sum {}", sum);
    assert_eq!(sum, (0..4000u64).sum::<u64>());

    let (tx, rx) = mpsc::sync_channel::<u32>(0);
    let t = thread::spawn(move || rx.recv().unwrap() + after_ticker() as u32);
    tick_then(|| tx.send(41).unwrap());
    let received = t.join().unwrap();
    println!("sync_channel(0): received {}", received);
    assert_eq!(received, 42);

    let parked = thread::spawn(|| {
        thread::park();
        after_ticker()
    });
    tick_then(|| parked.thread().unpark());
    let unparked = parked.join().unwrap() == 1;
    println!("park/unpark: unparked after the ticker: {}", unparked);
    assert!(unparked);

    static CELL: OnceLock<u32> = OnceLock::new();
    let ts: Vec<_> = (0..4)
        .map(|i| {
            thread::spawn(move || {
                *CELL.get_or_init(|| {
                    thread::sleep(Duration::from_millis(20));
                    i + 100
                }) >= 100
            })
        })
        .collect();
    let all = ts.into_iter().map(|t| t.join().unwrap()).all(|b| b);
    println!("OnceLock: initialised once, seen by all 4 threads: {}", all);
    assert!(all);
}

struct Noisy(&'static AtomicUsize);
impl Drop for Noisy {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

static DROPPED: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static MINE: Cell<u64> = const { Cell::new(0) };
    static GUARD: Noisy = const { Noisy(&DROPPED) };
}

fn thread_locals_scoped() {
    // Plain threads, joined: a join returns after the thread's TLS destructors have run
    // (a scope may end before they do).
    static OK: AtomicUsize = AtomicUsize::new(0);
    let ts: Vec<_> = (1..=8u64)
        .map(|i| {
            thread::spawn(move || {
                GUARD.with(|_| {});
                MINE.with(|m| m.set(i));
                thread::sleep(Duration::from_millis(10)); // every thread holds its value across a sleep
                if MINE.with(|m| m.get()) == i {
                    OK.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    println!(
        "thread_local!: {} of 8 threads kept their value, {} destructors ran",
        OK.load(Ordering::SeqCst),
        DROPPED.load(Ordering::SeqCst)
    );
    assert_eq!((OK.load(Ordering::SeqCst), DROPPED.load(Ordering::SeqCst)), (8, 8));

    // Scoped threads borrowing the caller's data, each blocking on a shared lock.
    let totals = Mutex::new(Vec::new());
    let inputs: Vec<u64> = (1..=8).collect();
    thread::scope(|s| {
        for chunk in inputs.chunks(2) {
            let totals = &totals;
            s.spawn(move || {
                thread::sleep(Duration::from_millis(5));
                totals.lock().unwrap().push(chunk.iter().sum::<u64>());
            });
        }
    });
    let sum: u64 = totals.lock().unwrap().iter().sum();
    println!("scoped threads: 4 threads summed borrowed data to {}", sum);
    assert_eq!(sum, 36);
}

fn echo_server() {
    const CONNECTIONS: usize = 1000;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let mut handlers = Vec::new();
        for _ in 0..CONNECTIONS {
            let (mut conn, _) = listener.accept().unwrap();
            handlers.push(thread::spawn(move || {
                let mut buf = [0u8; 256];
                let mut echoed = 0;
                loop {
                    let n = conn.read(&mut buf).unwrap();
                    if n == 0 {
                        return echoed;
                    }
                    conn.write_all(&buf[..n]).unwrap();
                    echoed += n;
                }
            }));
        }
        handlers.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    // All connections open at once, so 1,000 handler threads are blocked together.
    let mut conns: Vec<TcpStream> = (0..CONNECTIONS).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut matched = 0;
    for round in 0..3 {
        for (i, c) in conns.iter_mut().enumerate() {
            c.write_all(format!("connection {} round {}\n", i, round).as_bytes()).unwrap();
        }
        for (i, c) in conns.iter_mut().enumerate() {
            let want = format!("connection {} round {}\n", i, round);
            let mut got = vec![0u8; want.len()];
            c.read_exact(&mut got).unwrap();
            matched += (got == want.as_bytes()) as usize;
        }
    }
    drop(conns);
    let echoed = server.join().unwrap();
    println!("echo server: {} connections, {} echoes matched, {} bytes echoed", CONNECTIONS, matched, echoed);
    assert_eq!(matched, 3 * CONNECTIONS);
}

fn main() {
    mutex_condvar();
    rwlock_barrier();
    channels_park_once();
    thread_locals_scoped();
    echo_server();
}
