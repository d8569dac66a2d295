#!/usr/bin/env python3
"""Writes the seed corpus of job_fuzz (test/fuzz/corpus/seed_*): small hand-made inputs in the
encoding that job_fuzz.cpp decodes (see its header comment). Run from anywhere:

    python3 test/fuzz/gen_corpus.py

Only the seed_* files are rewritten; inputs added later stay: regress_* are the inputs of
library bugs the fuzzer found (regress_watch_last_handle_dropped fails every time without the
fix; regress_timeout_race_two_threads is a two-thread race that failed about once in 100 runs).
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

# ---- encoders (byte values mirror job_fuzz.cpp) -------------------------------------------------
ONE, BG1, BG2 = 0, 1, 2
DRAIN, ABANDON = 0, 1

# real(): selector byte % 16
NAN, INF, NINF, NZERO, HALF, ONE_D, TWO, MINUS1, DENORM, HUGE = range(10)
RAW = 10  # followed by 8 bytes


def real(sel, raw=b""):
    return bytes([sel]) + (raw if sel == RAW else b"")


# body steps: (op, arg[, real])
def sleep(ms): return bytes([0, ms])
def yield_(): return bytes([1, 0])
def progress(r): return bytes([2, 0]) + r
def result(v): return bytes([3, v])
def throw_(): return bytes([4, 0])
def throw_int(): return bytes([5, 0])
def throw_aborted(): return bytes([6, 0])
def poll_cancel(iters, swallow=False, returns=False):
    return bytes([7, ((iters % 5) << 2) | (2 if swallow else 0) | (1 if returns else 0)])
def ignore_cancel(ms): return bytes([8, ms])
def check(): return bytes([9, 0])
def own_wait(): return bytes([10, 0 << 3])
def own_run(): return bytes([10, 1 << 3])
def own_cancel(): return bytes([10, 2 << 3])
def other_run(j): return bytes([10, (3 << 3) | j])
def other_cancel(j): return bytes([10, (4 << 3) | j])


def job(*steps, how=0):
    """create_job: opcode 0, step count, steps, constructor form (0 io, 1 id+label, 2 strand)."""
    assert len(steps) <= 4
    return bytes([0, len(steps)]) + b"".join(steps) + bytes([how])


def run(j, param=None):
    return bytes([2, j]) + (bytes([1, param]) if param is not None else bytes([0]))


SIG, STRAND = 1, 2


def async_run(j, bound=0, param=None):
    return bytes([3, j, bound]) + (bytes([1, param]) if param is not None else bytes([0]))


def cancel(j): return bytes([5, j])
def async_wait(j, bound=0): return bytes([6, j, bound])
TERMINAL, PARTIAL, TOTAL, TERM_PART, NONE = range(5)
def emit(sig, t=TERMINAL): return bytes([7, sig, t])
def stats(j): return bytes([8, j, 0])
def async_watch(j, after=0, strand=False):
    """after: 0 = version 0, 1 = the last version a watcher of j got, 2 = one after it."""
    return bytes([8, j, 3, after | (0x40 if strand else 0)])


def executor(j, flags=0, attempts=1, delay=0, timeout=0, cooldown=0, backoff=None):
    """create_exec. flags: 1/2 option sets (2 = once), 8 backoff, 0x10 on_complete, 0x40 throwing
    callbacks, 0x80 retry_if refuses. attempts: -1..4. durations: small_duration() selector
    (0: 0, 1: -1ms, 2: 100us, 3: 1ms, 4: 2ms, 5: 3ms, 6: 1ns, 7: 5ms; cooldown 15: forever)."""
    b = bytes([9, j, flags | (8 if backoff else 0), attempts + 1, delay, timeout, cooldown])
    if backoff:
        initial, mult, max_delay, jitter = backoff
        b += bytes([initial]) + mult + bytes([max_delay]) + jitter
    return b


def async_start(e, how=0, bound=0):
    """how: 1 = with params, 4 = co_spawn(exec.start())."""
    return bytes([10, e, how, bound])


def stop(e): return bytes([12, e, 0])
def stop_wait(e): return bytes([12, e, 1])
def async_stop(e, bound=0): return bytes([12, e, 2, bound])
def advance(ms): return bytes([13, ms])
def exec_stats(e, reset=False): return bytes([14, 1 if reset else 0, e])
def wait(j): return bytes([15, 0, j])
def drop_job(j): return bytes([15, 1, j])
def drop_exec(e): return bytes([15, 2, e])


def header(mode, ending=DRAIN): return bytes([mode, ending])


SEEDS = {
    "immediate": header(ONE) + job() + async_run(0) + advance(0) + stats(0) + run(0, 7) + advance(0) + stats(0),
    "timer_cancel": header(ONE) + job(sleep(3)) + async_run(0) + async_wait(0) + cancel(0) + advance(1)
    + async_run(0) + advance(5) + stats(0),
    "throws": header(ONE) + job(throw_()) + job(sleep(1), throw_int(), how=1) + job(throw_aborted(), how=2)
    + async_run(0) + async_run(1) + async_run(2) + run(0) + advance(2) + stats(1),
    "signal_cancel": header(ONE) + job(poll_cancel(4)) + async_run(0, SIG) + emit(0, TERMINAL) + advance(1)
    + async_run(0, SIG | STRAND) + emit(1, PARTIAL) + async_run(0, SIG) + emit(2, TOTAL) + advance(5),
    "progress": header(ONE) + job(progress(real(NAN)), progress(real(INF)), progress(real(HALF)),
                                  progress(real(RAW, bytes([0x7f, 0xf0, 0, 0, 0, 0, 0, 1]))))
    + run(0) + advance(0) + stats(0) + job(progress(real(NINF)), progress(real(DENORM)), sleep(1)) + async_run(1)
    + stats(1) + advance(2) + stats(1),
    "retry_timeout": header(ONE) + job(sleep(3)) + executor(0, attempts=3, delay=3, timeout=3)
    + async_start(0) + advance(3) + exec_stats(0) + advance(5) + advance(5) + exec_stats(0),
    "once_cooldown": header(ONE) + job(result(1)) + executor(0, flags=2, cooldown=4) + async_start(0)
    + advance(0) + async_start(0) + advance(3) + async_start(0) + exec_stats(0, reset=True) + async_start(0)
    + advance(0) + exec_stats(0),
    "background_thread": header(BG1) + job(sleep(2), progress(real(TWO))) + job(poll_cancel(3, swallow=True))
    + async_run(0) + async_run(1, SIG) + async_wait(0, SIG) + emit(0) + cancel(1) + wait(0) + executor(1, attempts=2)
    + async_start(0) + stop_wait(0) + stats(0) + stats(1),
    "two_threads": header(BG2) + job(sleep(1)) + job(yield_(), throw_()) + job(poll_cancel(2, returns=True))
    + async_run(0) + async_run(1) + async_run(2) + cancel(2) + async_run(0) + advance(1) + run(1) + cancel(0)
    + executor(2, attempts=4, delay=6, timeout=6) + async_start(0) + async_stop(0) + advance(3),
    "abandon": header(ONE, ABANDON) + job(sleep(5)) + job(poll_cancel(4, swallow=True)) + async_run(0, SIG)
    + async_run(1) + async_wait(0) + executor(1, attempts=3) + async_start(0) + advance(1),
    "abandon_threads": header(BG2, ABANDON) + job(sleep(5)) + async_run(0) + async_wait(0) + executor(0, attempts=2)
    + async_start(0) + drop_job(0) + drop_exec(0),
    "backoff": header(ONE) + job(throw_()) + executor(0, attempts=3, backoff=(3, real(NAN), 4, real(HALF)))
    + executor(0, attempts=3, backoff=(3, real(TWO), 4, real(ONE_D))) + executor(0, attempts=4, delay=1)
    + async_start(1) + advance(5) + exec_stats(1) + advance(5),
    "reentrant": header(ONE) + job(own_wait(), own_run(), other_run(1), other_cancel(1))
    + job(sleep(2), how=2) + job(own_cancel(), poll_cancel(2)) + async_run(0) + async_run(2) + advance(3) + stats(1)
    + advance(3),
    "stop_reset_spawn": header(ONE) + job(sleep(2)) + executor(0, flags=1, attempts=2, timeout=3)
    + async_start(0, how=4) + advance(0) + stop(0) + advance(3) + async_start(0, how=5) + async_stop(0, STRAND)
    + advance(3) + exec_stats(0, reset=True),
    "callbacks_throw": header(ONE) + job(throw_()) + executor(0, flags=0x10 | 0x40 | 0x01, attempts=3)
    + async_start(0) + advance(1) + async_start(0) + advance(1) + executor(0, flags=0x60 | 0x01, attempts=3)
    + async_start(1) + advance(1) + exec_stats(0),
    "watch": header(ONE) + job(sleep(1), progress(real(HALF)), sleep(1)) + async_watch(0) + async_watch(0, 1)
    + async_run(0) + advance(0) + async_watch(0, 1, strand=True) + async_watch(0, 2) + advance(3) + async_watch(0, 1)
    + advance(0) + stats(0),
    "watch_threads": header(BG2) + job(progress(real(HALF)), sleep(1)) + async_watch(0, 1) + async_run(0)
    + async_watch(0, 2) + advance(2) + run(0) + async_watch(0, 1) + advance(2),
    "forever_cooldown": header(ONE) + job() + executor(0, cooldown=15) + async_start(0) + advance(0)
    + async_start(0) + async_start(0, how=4) + advance(0) + exec_stats(0),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, "seed_" + name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
