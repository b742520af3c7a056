"""Coverage in every Python process of a ``make coverage`` run: pytest itself, each ``serve`` and
each CLI process the tests start (this folder is on their PYTHONPATH only during that run).

A process the tests SIGKILL (a crash on purpose) would lose what it measured: on SIGUSR1 it saves
its data, then writes ``<pid>`` in ``COVERAGE_SAVED_DIR`` so the test knows it may kill it
(``tests/e2e/app_process.py``). A process that ends normally, SIGTERM included, saves at exit.
"""

import os

if os.environ.get("COVERAGE_PROCESS_START"):
    import signal

    import coverage

    # Recent coverage releases start it themselves from a .pth file: then this returns None and
    # the running instance is kept on the function.
    _coverage = coverage.process_startup() or getattr(coverage.process_startup, "coverage", None)
    _saved_dir = os.environ.get("COVERAGE_SAVED_DIR")
    if _coverage is not None and _saved_dir:

        def _save(signum, frame):  # noqa: ARG001  (a signal handler's signature)
            _coverage.save()
            with open(os.path.join(_saved_dir, str(os.getpid())), "w"):
                pass

        signal.signal(signal.SIGUSR1, _save)
