"""Benchmark: seconds to regenerate dSprites (full set, bit-packed; 10,000-image subset) and peak memory.

Run: ``PYTHONPATH=. python benchmarks/bench_datasets.py``. Peak memory is reported twice:
the peak of numpy allocations traced by ``tracemalloc`` during each run, and the process's
maximum resident set size (``resource.getrusage``, includes the interpreter and libraries).
"""

import os
import resource
import sys
import time
import tracemalloc

from skecho.datasets import make_dsprites


def measure(label, **kwargs):
    tracemalloc.start()
    start = time.perf_counter()
    bunch = make_dsprites(**kwargs)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<34} {seconds:8.2f} s   images {bunch.images.nbytes / 2**20:8.1f} MiB   "
          f"traced peak {peak / 2**20:8.1f} MiB")
    return seconds


def main():
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    measure("subset, 10,000 images", n_samples=10_000, random_state=0)
    measure("subset, 10,000 images, packed", n_samples=10_000, packed=True, random_state=0)
    measure("full set, 737,280 images, packed", packed=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"max resident set size of the process: {rss / 2**10:.1f} MiB")


if __name__ == "__main__":
    main()
