"""The CPU step's products on several cores, with results that do not depend on how many: fixed pieces, any worker.

OpenBLAS splits a product between its threads statically and adds up in an order that depends on their
number, so its digits move with the thread count, and a thread descheduled by a busy core stalls every
product. Here OpenBLAS runs one thread, and each product is cut into pieces along one of its *output*
dimensions, never along the summed one: a piece is one single-threaded gemm on a block of rows or columns of
C, which adds up each element of C exactly as it would in any other piece layout. How many pieces a product
gets depends on its shape alone (`cuts`), so 1, 2 or 16 workers compute the same bits. The pieces are handed
out one at a time from a shared counter to persistent workers (`Workers`: ctypes releases the GIL during a
call, so they run at once), and a worker on a busy core simply takes fewer.

A task is a short list of calls run in order by one worker: in a backward layer, the piece J of (BP2)
δ^[l-1][:, J] = δ^[l] W^[l][:, J] and then the piece J of (BP4) + update W^[l][:, J] ← W^[l][:, J] − … read and
write the same columns J of W^[l], so each column block's two products run side by side with every other
block's, and (BP2) still reads W^[l] before its update writes it.

Shapes: a product C (M, N) = A (M, K) B (K, N) is cut into `cuts(M, N, K)` blocks of rows or of columns of C.
"""

import functools
import itertools
import threading

PIECE_FLOPS = 12 * 2**20   # a piece is at least ~12 MFLOP (about 0.1 ms on one core): measured, smaller ones lose
MAX_PIECES = 8             # to packing the shared operand again for each piece (8 pieces of the largest: +15 %)
ALIGN = 16                 # blocks are whole multiples of 16 (one AVX-512 register of float32), but the last


def cuts(M, N, K, flops_each=1):
    """How many pieces a product of this shape is cut into: by its work alone, never by the thread count; a
    power of two (1, 2, 4, 8), so that 2 or 4 workers share them evenly. flops_each counts the products a task
    runs on the same block (2 for (BP2) and (BP4) of one layer)."""
    pieces = max(1, min(MAX_PIECES, 2 * M * N * K * flops_each // PIECE_FLOPS, -(-max(M, N) // ALIGN)))
    return 1 << (pieces.bit_length() - 1)


def blocks(size, pieces):
    """The slices that cut range(size) into `pieces` blocks of whole multiples of ALIGN (the last one shorter)."""
    step = -(-size // pieces)
    step = -(-step // ALIGN) * ALIGN
    return [slice(start, min(start + step, size)) for start in range(0, size, step)]


class Batch:
    """One round of tasks: each is run once, by whichever worker takes its number first."""

    def __init__(self, tasks):
        self.tasks, self.numbers, self.left = tasks, itertools.count(), len(tasks)
        self.lock, self.done, self.error = threading.Lock(), threading.Event(), None

    def work(self):
        """Take task numbers until none is left, running each task's calls in order."""
        for i in self.numbers:  # next() on a count is atomic: each number is taken once
            if i >= len(self.tasks):
                return
            try:
                for call in self.tasks[i]:
                    call()
            except BaseException as e:  # handed to the caller, which raises it once every task is over
                self.error = e
            finally:  # counted even when a signal's exception cut the task short: the batch always ends
                with self.lock:
                    self.left -= 1
                    if self.left == 0:
                        self.done.set()


class Workers:
    """`count` workers: the caller and count − 1 persistent threads, which wait between batches.

        workers = shared_workers(2)
        workers.run([[call_a], [call_b1, call_b2]])    # returns when every task has run
    """

    def __init__(self, count):
        self.count, self.batch, self.ready = count, None, threading.Condition()
        for i in range(count - 1):
            threading.Thread(target=self._serve, name=f"scratchnet-worker-{i + 1}", daemon=True).start()

    def run(self, tasks):
        """Run every task once, the caller taking its share; raise what a task raised, after all have finished."""
        if self.count == 1 or len(tasks) == 1:
            for task in tasks:
                for call in task:
                    call()
            return
        batch = Batch(tasks)
        with self.ready:
            self.batch = batch
            self.ready.notify_all()
        batch.work()
        try:
            batch.done.wait()
        except BaseException:  # a signal's exception (a second Ctrl-C): the pieces in flight finish first
            batch.done.wait()
            raise
        if batch.error is not None:
            raise batch.error

    def _serve(self):
        seen = None
        while True:
            with self.ready:
                while self.batch is seen:
                    self.ready.wait()
                seen = self.batch
            seen.work()


@functools.cache
def shared_workers(count):
    """The process's Workers of this count, started on first use and kept (threads are not started per step)."""
    return Workers(count)


def gemm_tasks(blas, A, B, C, alpha=1.0, beta=0.0):
    """C ← α A B + β C as tasks of one bound gemm each, on blocks of C's columns (or of its rows, where C has
    more rows than columns). Shapes: A (M, K), B (K, N), C (M, N); blas is a scratchnet.fast.blas.CpuBlas."""
    (M, K), N = A.shape, B.shape[1]
    pieces = cuts(M, N, K)
    if N >= M:
        return [[blas.bind_gemm(A, B[:, J], C[:, J], alpha, beta)] for J in blocks(N, pieces)]
    return [[blas.bind_gemm(A[I], B, C[I], alpha, beta)] for I in blocks(M, pieces)]
