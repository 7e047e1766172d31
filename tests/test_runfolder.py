"""One run folder, one process (the lock), and checkpoints that survive a write cut short."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ltkit
from ltkit import RunConfig, checkpoint
from ltkit.runs import folder as runfolder
from ltkit.runs.status import run_status

TINY = dict(
    dataset="synthetic_lt",
    synthetic_classes=4,
    synthetic_n_max=40,
    imb_ratio=10,
    synthetic_image_size=8,
    batch_size=16,
    lr=0.05,
    warmup_epochs=1,
    milestones=(2,),
    progress=False,
    num_workers=0,
    device="cpu",
    classifier="causal_norm",
    alpha=1.0,
)
QUIET = dict(log=lambda *_: None)

HOLDER = """
import sys, time
from ltkit.runs.folder import hold
with hold(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def held(tmp_path):
    """A separate process holding the lock on tmp_path / 'run' (killed at the end)."""
    folder = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    yield folder, p
    p.kill()
    p.wait()


def test_a_second_process_on_a_run_folder_fails_fast_and_by_name(held):
    folder, p = held
    t0 = time.monotonic()
    with pytest.raises(runfolder.RunFolderLocked) as e:
        ltkit.run(RunConfig(**TINY, epochs=1, output_dir=str(folder)), **QUIET)
    assert time.monotonic() - t0 < 10
    assert str(folder) in str(e.value) and f"pid {p.pid}" in str(e.value)
    assert e.value.holder["pid"] == p.pid
    assert not (folder / "run.json").exists() and not (folder / "checkpoint.pt").exists()  # nothing was written
    assert runfolder.holder(folder)["pid"] == p.pid  # asking does not take the lock or rename its holder


def test_a_lock_left_by_a_killed_process_does_not_block(held):
    folder, p = held
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert (folder / runfolder.LOCK_FILE).exists() and runfolder.holder(folder) is None
    ltkit.run(RunConfig(**TINY, epochs=1, output_dir=str(folder)), **QUIET)
    assert (folder / "run.json").is_file() and runfolder.holder(folder) is None  # released after the run


def test_status_says_running_while_the_folder_is_held(held, tmp_path):
    folder, p = held
    (folder / "run.json").write_text('{"status": "running", "process": {"host": "elsewhere", "pid": 1}}')
    assert run_status(folder).state.tolist() == ["running"]  # the lock, not the recorded host, decides
    p.kill()
    p.wait()
    assert run_status(folder).state.tolist() == ["stopped"]


def test_the_lock_is_reentrant_and_covers_the_processes_it_starts(tmp_path):
    folder = tmp_path / "run"
    with runfolder.hold(folder):
        with runfolder.hold(folder):  # the runner inside a held batch step, say
            pass
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from ltkit.runs.folder import hold\nwith hold(sys.argv[1]): print('ok')",
                str(folder),
            ],
            env=runfolder.child_env(folder),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert child.stdout.strip() == "ok", child.stderr
        other = subprocess.run(  # the same command without the torchrun-style hand-over is refused
            [
                sys.executable,
                "-c",
                "import sys; from ltkit.runs.folder import hold\nwith hold(sys.argv[1]): print('ok')",
                str(folder),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.returncode != 0 and "RunFolderLocked" in other.stderr
    assert runfolder.holder(folder) is None


# ---------------------------------------------------------------------------- checkpoints
def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_checkpoint_intact_spots_a_file_cut_short(tmp_path):
    good = tmp_path / "a.pt"
    torch.save({"w": torch.arange(1000.0)}, good)
    assert checkpoint.checkpoint_intact(good) is None
    _truncate(good, 0.9)
    assert "cut short" in checkpoint.checkpoint_intact(good)
    assert checkpoint.checkpoint_intact(tmp_path / "none.pt") == "missing"


def test_the_previous_checkpoint_stays_until_the_new_one_is_in_place(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    checkpoint.save_checkpoint(path, {"epoch": 1})
    checkpoint.save_checkpoint(path, {"epoch": 2})
    prev = checkpoint.previous_path(path)
    assert torch.load(path)["epoch"] == 2 and torch.load(prev)["epoch"] == 1

    real_save = torch.save

    def disk_full(obj, f):  # half a checkpoint, then the write fails
        real_save(obj, f)
        f.truncate(f.tell() // 2)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        checkpoint.save_checkpoint(path, {"epoch": 3})
    monkeypatch.undo()
    assert torch.load(path)["epoch"] == 2 and torch.load(prev)["epoch"] == 1
    assert {p.name for p in tmp_path.iterdir()} == {"checkpoint.pt", "checkpoint.prev.pt"}  # no temp left


@pytest.fixture
def python_sigint_handler():
    """Python's own Ctrl-C handler for the test, whatever pytest inherited: a process started in
    the background by a non-interactive shell ignores SIGINT (SIG_IGN), and then a Ctrl-C rightly
    raises nothing."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def _signal_mid_write(monkeypatch):
    """torch.save writes through a file object that sends this process SIGINT after its second write."""
    real_save = torch.save

    class SignalMidWrite:
        def __init__(self, f):
            self.f, self.writes = f, 0

        def write(self, b):
            self.writes += 1
            if self.writes == 2:
                os.kill(os.getpid(), signal.SIGINT)
            return self.f.write(b)

        def flush(self):
            self.f.flush()

    monkeypatch.setattr(torch, "save", lambda obj, f: real_save(obj, SignalMidWrite(f)))


def test_a_ctrl_c_while_a_checkpoint_is_written_lands_after_it(tmp_path, monkeypatch, python_sigint_handler):
    """The race an interrupted batch met in CI: SIGINT inside torch.save became a RuntimeError
    ("unexpected pos") and the run was recorded failed. Now the checkpoint completes, then the
    KeyboardInterrupt arrives."""
    path = tmp_path / "checkpoint.pt"
    checkpoint.save_checkpoint(path, {"epoch": 1})
    _signal_mid_write(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_checkpoint(path, {"epoch": 2, "w": torch.zeros(1000)})
    monkeypatch.undo()
    assert torch.load(path)["epoch"] == 2 and torch.load(checkpoint.previous_path(path))["epoch"] == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


def test_a_process_that_ignores_ctrl_c_keeps_ignoring_it_while_saving(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _signal_mid_write(monkeypatch)
        checkpoint.save_checkpoint(path, {"epoch": 1})  # no KeyboardInterrupt
        monkeypatch.undo()
        assert torch.load(path)["epoch"] == 1 and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_truncated_checkpoint_resumes_from_the_previous_one_and_says_so(tmp_path):
    full = ltkit.run(RunConfig(**TINY, epochs=3, output_dir=str(tmp_path / "full")), **QUIET)
    # a 3-epoch run killed while its checkpoint of epoch 2 was being copied: that file is cut short
    part = tmp_path / "part"
    ltkit.run(RunConfig(**TINY, epochs=2, output_dir=str(part)), **QUIET)
    ckpt, prev = part / "checkpoint.pt", part / "checkpoint.prev.pt"
    for p in (ckpt, prev):  # the schedule of epochs 1-2 does not depend on the total: make them the 3-epoch run's
        ck = torch.load(p, weights_only=True)
        torch.save({**ck, "config": RunConfig(**TINY, epochs=3).training_dict()}, p)
    assert torch.load(prev, weights_only=True)["epoch"] == 1
    _truncate(ckpt)
    (part / "run.json").unlink()
    logs = []
    ltkit.run(RunConfig(**TINY, epochs=3, output_dir=str(part)), log=logs.append)
    assert any("checkpoint.pt cannot be read" in line and "resuming from checkpoint.prev.pt" in line for line in logs)
    assert any("after epoch 1/3" in line for line in logs)
    a = torch.load(full / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(ckpt, weights_only=True)["model"]
    for k in a:  # epochs 2 and 3 trained again from epoch 1's state: the uninterrupted run's weights
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def test_no_readable_checkpoint_is_an_error_that_names_the_files(tmp_path):
    part = tmp_path / "part"
    ltkit.run(RunConfig(**TINY, epochs=2, output_dir=str(part)), **QUIET)
    _truncate(part / "checkpoint.pt")
    _truncate(part / "checkpoint.prev.pt")
    (part / "run.json").unlink()
    with pytest.raises(checkpoint.CheckpointError) as e:
        ltkit.run(RunConfig(**TINY, epochs=3, output_dir=str(part)), **QUIET)
    msg = str(e.value)
    assert str(part / "checkpoint.pt") in msg and str(part / "checkpoint.prev.pt") in msg
    assert "delete checkpoint.pt and checkpoint.prev.pt" in msg and "PytorchStreamReader" not in msg.split(".")[0]


def test_a_library_error_raised_over_a_ctrl_c_counts_as_an_interruption():
    """The runner records a run 'interrupted' (not 'failed') when the KeyboardInterrupt reaches it
    dressed as another error, as torch.save's writer does."""
    import io

    from ltkit.runs.runner import _interrupted

    class InterruptedFile(io.BytesIO):  # Ctrl-C on the third write, inside torch's C++ writer
        writes = 0

        def write(self, b):
            self.writes += 1
            if self.writes == 3:
                raise KeyboardInterrupt
            return super().write(b)

    with pytest.raises(RuntimeError, match="unexpected pos") as caught:
        torch.save({"w": torch.zeros(1000), "v": torch.zeros(10)}, InterruptedFile())
    assert _interrupted(caught.value)
    assert not _interrupted(RuntimeError("a real failure"))
    assert _interrupted(KeyboardInterrupt())


def test_one_helper_starts_every_run_in_its_folder():
    """The classification and LVIS runners both start runs through ltkit.runs.launch, and neither
    takes a lock or starts torchrun on its own."""
    from test_design import import_graph

    graph = import_graph()
    for runner in ("ltkit.runs.runner", "ltkit.detection.run"):
        assert "ltkit.runs.launch" in graph[runner]
        assert "ltkit.runs.folder" not in graph[runner], runner


def test_the_helper_relaunches_under_its_lock_and_checks_gpus(tmp_path):
    from ltkit.runs.launch import run_in_folder

    folder = tmp_path / "run"
    folder.mkdir()
    code = "import os, sys; from ltkit.runs.folder import HELD_ENV; print(os.environ.get(HELD_ENV))"
    seen = {}

    def relaunched():
        seen["locked"] = runfolder.holder(folder) is not None  # still under the launcher's lock
        return "relaunched"

    out = run_in_folder(
        folder,
        gpus=2,
        here=lambda: "here",
        cuda=False,
        log=lambda *_: None,
        command=lambda: [sys.executable, "-c", code + "; sys.exit(0 if os.environ.get(HELD_ENV) else 3)"],
        relaunched=relaunched,
    )
    assert out == "relaunched" and seen == {"locked": True}
    assert run_in_folder(folder, gpus=1, here=lambda: "here", command=list, relaunched=str) == "here"
    with pytest.raises(ValueError, match="gpus: 64 requested"):
        run_in_folder(folder, gpus=64, here=lambda: "here", command=list, relaunched=str, cuda=True)
    with runfolder.hold(folder):
        code = (
            "import sys; from ltkit.runs.launch import run_in_folder; "
            "run_in_folder(sys.argv[1], gpus=1, here=lambda: 0, command=list, relaunched=str)"
        )
        other = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=120)
    assert other.returncode != 0 and "RunFolderLocked" in other.stderr
