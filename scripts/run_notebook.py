#!/usr/bin/env python3
"""Execute one notebook top to bottom with the tslab kernel and report exactly what failed.

    python3 scripts/run_notebook.py NOTEBOOK [--timeout SEC] [--output PATH] [--echo]

Used by test/e2e/notebooks.test.ts and scripts/chapter.mjs, which set JUPYTER_PATH (see
scripts/jupyter-env.mjs) so that the project's kernel "tslab" is found. The kernel runs with the
notebook's folder as cwd and inherits this process's environment (notebooks read their
parameters from it). Prints per-cell and total wall time.

On failure, prints the notebook, cell index, cell source, the error, the cell's stderr output
(tslab sends compile errors and stack traces there, while the error reply itself is usually an
empty "<Error>:") and the kernel process's own stdout/stderr (start-up failures, crashes).

Exit status: 0 all cells ran, 1 a cell failed / timed out / the kernel died, 2 could not start.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import nbformat
from jupyter_client import KernelManager
from jupyter_client.kernelspec import NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class Client(NotebookClient):
    """NotebookClient that can also echo the cells' stdout/stderr to our stdout as they arrive
    (one stream, so the order survives redirection; stderr lines are marked with "!")."""

    echo = False

    def output(self, outs, msg, display_id, cell_index):
        if self.echo and msg["msg_type"] == "stream":
            marker = "!" if msg["content"]["name"] == "stderr" else "|"
            for line in msg["content"]["text"].splitlines():
                print(f"      {marker} {line}")
            sys.stdout.flush()
        return super().output(outs, msg, display_id, cell_index)


def section(title, body):
    body = body.rstrip("\n")
    print(f"--- {title} ---\n{body if body else '(empty)'}")


def report_failure(nb_path, cell, index, code_number, code_total, error, timeout, kernel_log):
    print(f"\n===== FAILED: {os.path.basename(nb_path)}, cell {index} "
          f"(code cell {code_number}/{code_total}) =====")
    section("cell source", cell.source)
    if isinstance(error, CellExecutionError):
        section("error", f"{error.ename}: {error.evalue}")
        tracebacks = [ANSI_ESCAPE.sub("", "\n".join(out.get("traceback", [])))
                      for out in cell.get("outputs", []) if out.output_type == "error"]
        if tracebacks:
            section("traceback", "\n".join(tracebacks))
    elif isinstance(error, CellTimeoutError):
        section("error", f"CellTimeoutError: the cell did not finish within {timeout} s (--timeout)")
    else:
        section("error", f"{type(error).__name__}: {error}")
    streams = {name: "".join(out.text for out in cell.get("outputs", [])
                             if out.output_type == "stream" and out.name == name)
               for name in ("stdout", "stderr")}
    section("cell stdout (last 20 lines)", "\n".join(streams["stdout"].splitlines()[-20:]))
    section("cell stderr", streams["stderr"])
    kernel_log.seek(0)
    section("kernel process stdout/stderr", kernel_log.read().decode("utf8", "replace"))


def run_cells(client, nb_path, code_cells, timeout, kernel_log, t_start):
    """Execute the code cells in order; stop at the first failure. Returns True if one failed."""
    for number, index in enumerate(code_cells, start=1):
        cell = client.nb.cells[index]
        first_line = cell.source.strip().splitlines()[0][:70]
        print(f"[{number}/{len(code_cells)}] cell {index}: {first_line}", flush=True)
        t_cell = time.monotonic()
        error = None
        try:
            client.execute_cell(cell, index)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
            error = e
        now = time.monotonic()
        print(f"      {now - t_cell:.2f} s (elapsed {now - t_start:.1f} s)", flush=True)
        if error:
            report_failure(nb_path, cell, index, number, len(code_cells), error, timeout, kernel_log)
            return True
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebook")
    ap.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds (default 600)")
    ap.add_argument("--startup-timeout", type=int, default=60, help="kernel start timeout in seconds")
    ap.add_argument("--output", help="write the executed notebook here (also when a cell fails)")
    ap.add_argument("--kernel", default="tslab", help="kernel name (default tslab)")
    ap.add_argument("--echo", action="store_true", help="echo cell stdout/stderr live")
    args = ap.parse_args()
    # Turn SIGTERM (test-runner timeouts, CI cancellation) into SystemExit so that the kernel
    # is shut down on the way out instead of being left running as an orphan.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    nb_path = os.path.abspath(args.notebook)
    if args.output and os.path.realpath(args.output) == os.path.realpath(nb_path):
        print("run_notebook: refusing to overwrite the source notebook with its executed copy")
        return 2
    try:
        nb = nbformat.read(nb_path, as_version=4)
    except (OSError, ValueError) as error:  # missing file, not JSON, not a notebook
        print(f"run_notebook: cannot read {args.notebook}: {error}")
        return 2
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]

    # A synchronous KernelManager that we hold on to, so that the `finally` below can always stop
    # the kernel: nbclient's own cleanup does not run when we are interrupted during kernel start.
    client = Client(nb, kernel_name=args.kernel, kernel_manager_class=KernelManager,
                    timeout=args.timeout, startup_timeout=args.startup_timeout,
                    resources={"metadata": {"path": os.path.dirname(nb_path)}})
    client.echo = args.echo
    km = client.create_kernel_manager()

    print(f"run_notebook: {args.notebook} ({len(code_cells)} code cells, "
          f"kernel {args.kernel}, timeout {args.timeout} s per cell)", flush=True)
    t_start = time.monotonic()
    # The kernel's own stdout/stderr go to this file, read back only when something fails.
    with tempfile.TemporaryFile() as kernel_log:
        try:
            with client.setup_kernel(stdout=kernel_log, stderr=subprocess.STDOUT):
                print(f"kernel started in {time.monotonic() - t_start:.1f} s", flush=True)
                failed = run_cells(client, nb_path, code_cells, args.timeout, kernel_log, t_start)
        except NoSuchKernel:
            print(f"run_notebook: no kernel named {args.kernel!r}; run `npm run setup` and set "
                  "JUPYTER_PATH=.jupyter/share/jupyter (npm scripts do this)")
            return 2
        except RuntimeError as error:  # e.g. the kernel died or did not start in time
            print(f"run_notebook: kernel failed to start: {error}")
            kernel_log.seek(0)
            section("kernel process stdout/stderr", kernel_log.read().decode("utf8", "replace"))
            return 2
        finally:
            if km.has_kernel:
                km.shutdown_kernel(now=True)

    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        nbformat.write(nb, args.output)
    status = "FAILED" if failed else "ok"
    print(f"{status}: {os.path.basename(nb_path)} in {time.monotonic() - t_start:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
