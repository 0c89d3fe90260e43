"""The Qt shell: main window, docks, menus, job runner, log, screenshots.

Importing it leaves one core to the GUI thread: BLAS and OpenMP pools (numpy, torch) default to
``cores − 1`` threads unless the user set them. Their worker threads spin while waiting for work, and
on a 2-core machine two of them starve the event loop for hundreds of milliseconds (measured: a 740 ms
stall on the first 300×300 eigensolve with two OpenBLAS threads, under 10 ms with one).
"""

import os

_threads = str(max(1, (os.cpu_count() or 1) - 1))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _threads)
