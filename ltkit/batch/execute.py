"""Executing one run's notebook with papermill, and stopping the running ones on a signal."""

from __future__ import annotations

import sys
import time
import weakref
from pathlib import Path
from typing import Any, Dict, Optional

from .recipe import RunSpec

DEFAULT_KERNEL = "ltkit"


#: seconds an interrupted batch gives its running notebooks to stop before it exits anyway
STOP_GRACE_S = 15.0


def run_state(spec: RunSpec) -> str:
    """``"complete"`` (would be skipped), ``"stale"`` (a complete record with other training
    parameters: runs again) or ``"pending"``."""
    from ..runs.record import is_complete, read_run

    if not is_complete(spec.output_dir):
        if (
            spec.kept_dir
            and is_complete(spec.kept_dir)
            and spec.config is not None
            and spec.config.matches(read_run(spec.kept_dir).get("params") or {})
        ):
            return "complete"  # its record is committed already (the recipe's kept folder)
        return "pending"
    saved = read_run(spec.output_dir).get("params")
    if not isinstance(saved, dict) or spec.config is None:
        return "complete"
    return "complete" if spec.config.matches(saved) else "stale"


def error_text(e: BaseException) -> str:
    ename = getattr(e, "ename", None)
    evalue = getattr(e, "evalue", None)
    if ename is not None:  # papermill.PapermillExecutionError: the notebook's exception
        kind, msg = str(ename), str(evalue or "")
    else:
        kind, msg = type(e).__name__, str(e)
    lines = [ln.strip() for ln in msg.strip().splitlines() if ln.strip()]
    return f"{kind}: {lines[-1]}" if lines else kind


#: the kernel managers of this process's notebooks, so that an interrupted batch can stop them
_KERNELS: "weakref.WeakSet" = weakref.WeakSet()


def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class TrackedKernelManager(AsyncKernelManager):
        """nbclient's kernel manager, remembered while its kernel lives (``interrupt_kernels``)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            _KERNELS.add(self)

    return TrackedKernelManager


def interrupt_kernels() -> int:
    """Send SIGINT to the kernels of the notebooks running in this process (a KeyboardInterrupt in
    the cell they execute: the runner records the run as interrupted); returns how many."""
    import os
    import signal

    n = 0
    for km in list(_KERNELS):
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        if proc is None or proc.poll() is not None:
            continue
        try:
            os.killpg(proc.pid, signal.SIGINT)  # the kernel leads its own session (jupyter_client)
        except OSError:
            try:
                os.kill(proc.pid, signal.SIGINT)
            except OSError:
                continue
        n += 1
    return n


def execute_notebook(notebook: Path, out: Path, parameters: Dict[str, Any], kernel: str, root: Path) -> None:
    import papermill

    out.parent.mkdir(parents=True, exist_ok=True)
    # every call uses the same cwd (the process's own): papermill's chdir is process-wide, so
    # differing cwds would race between the threads of --jobs
    papermill.execute_notebook(
        str(notebook),
        str(out),
        parameters=parameters,
        kernel_name=kernel,
        progress_bar=False,
        cwd=str(root),
        kernel_manager_class=_kernel_manager_class(),
    )


def run_one(spec: RunSpec, notebook: Path, kernel: str, root: Path) -> Dict[str, Any]:
    from ..runs.folder import describe_holder, holder

    out_dir = Path(spec.output_dir)
    if not out_dir.is_absolute():
        out_dir = root / out_dir
    who = holder(out_dir)
    if who is not None:  # a notebook, another batch, a job: it trains there now; leave it alone
        return result_row(spec, "running elsewhere", 0.0, f"held by {describe_holder(who)}", None)
    executed = out_dir / notebook.name
    t0 = time.perf_counter()
    error = ""
    try:
        execute_notebook(notebook, executed, spec.parameters, kernel, root)
        status = "done"
    except Exception as e:  # noqa: BLE001 - any failure is recorded; the batch goes on
        status, error = "failed", error_text(e)
        ename = str(getattr(e, "ename", ""))
        if ename == "RunFolderLocked":  # it was taken between the check above and the run
            status = "running elsewhere"
        elif ename == "KeyboardInterrupt":  # the batch was interrupted and stopped its kernel
            status = "interrupted"
    return result_row(spec, status, time.perf_counter() - t0, error, executed)


def result_row(spec: RunSpec, status: str, seconds: float, error: str, executed: Optional[Path]) -> Dict[str, Any]:
    """A run's row of the batch summary. ``kept_dir`` and ``config`` (the run-defining fields)
    let ``ltkit status`` estimate how long a run that has not started will take."""
    config = spec.config
    return {
        "name": spec.name,
        "status": status,
        "seconds": round(seconds, 1),
        "error": error,
        "output_dir": spec.output_dir,
        "notebook": str(executed) if executed else "",
        "device": spec.parameters.get("device", ""),
        "kept_dir": spec.kept_dir or "",
        "config": ({k: v for k, v in config.to_dict().items() if k not in config.execution_fields()} if config else {}),
    }


def check_kernel(kernel: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise ValueError(
            f"kernel {kernel!r} is not installed; register it with: "
            f"{Path(sys.executable).name} -m ipykernel install --user --name {kernel}"
        ) from None


class BatchInterrupted(KeyboardInterrupt):
    """The batch stopped on Ctrl-C or SIGTERM; ``signum`` says which (the exit status is 128 + it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class signals_as_interrupt:
    """Within the block, SIGTERM (a scheduler, ``kill``) and SIGINT (Ctrl-C) raise
    :class:`BatchInterrupted` in the main thread; elsewhere (a thread) nothing changes."""

    def __enter__(self):
        import signal
        import threading

        self.old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal must not break the orderly stop
            signal.signal(sig, signal.SIG_IGN)
        raise BatchInterrupted(signum)

    def __exit__(self, *exc):
        import signal

        for sig, handler in self.old.items():
            signal.signal(sig, handler)
        return False


def declared_parameters(notebook: Path) -> Dict[str, Any]:
    import papermill

    try:
        return papermill.inspect_notebook(str(notebook))
    except Exception:  # noqa: BLE001 - an unreadable notebook fails (and is reported) when executed
        return {}
