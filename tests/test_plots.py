"""ltkit.report.figures only draws: in its style, and without touching matplotlib's global state."""

import matplotlib
import numpy as np
import pandas as pd

from ltkit.report import figures


def _frames():
    bars = pd.DataFrame(
        {
            "method": ["a", "b"],
            "many": [80.0, 70.0],
            "medium": [50.0, 60.0],
            "few": [np.nan, 40.0],
            "overall": [60.0, 58.0],
        }
    )
    per_class = pd.DataFrame({"class": range(4), "train_count": [500, 100, 20, 5], "x": [90, 70, 40, 10.0]})
    sweep = pd.DataFrame(
        {
            "alpha": [0.0, 1.0, 2.0],
            "overall": [50.0, 55, 52],
            "many": [80.0, 75, 60],
            "medium": [40.0, 50, 55],
            "few": [10.0, 30, 45],
        }
    )
    cos = pd.DataFrame({"cosine": np.linspace(0, 1, 50), "run": ["r"] * 50})
    return bars, per_class, sweep, cos


def test_drawing_changes_no_global_state(tmp_path):
    import matplotlib.pyplot as plt

    bars, per_class, sweep, cos = _frames()
    backend = matplotlib.get_backend()
    before = dict(matplotlib.rcParams)
    figures_before = plt.get_fignums()
    fig, ax = figures.figure(figsize=(4, 3))
    figures.shot_bars(bars, ax=ax, title="t")
    figures.save(fig, tmp_path / "bars.png", pdf=True)
    for draw in (
        lambda ax: figures.per_class_curve(per_class, columns=["x"], ax=ax),
        lambda ax: figures.alpha_sweep(sweep, ax=ax, suggested=1.0, used=1.5),
        lambda ax: figures.cosine_histogram(cos, ax=ax, title="c"),
        lambda ax: figures.accuracy_per_epoch(pd.DataFrame({"epoch": [1, 2], "test_tde": [1.0, 2.0]}), ax=ax),
    ):
        fig, ax = figures.figure()
        draw(ax)
        figures.save(fig, tmp_path / "x.png")
    assert matplotlib.get_backend() == backend
    changed = {k for k in before if matplotlib.rcParams[k] != before[k]}
    assert not changed, changed
    assert plt.get_fignums() == figures_before  # the writers' figures are not pyplot's
    assert (tmp_path / "bars.png").stat().st_size > 5_000 and (tmp_path / "bars.pdf").is_file()


def test_the_style_applies_to_the_kit_figures_only():
    import seaborn as sns
    from matplotlib.figure import Figure

    fig, ax = figures.figure()
    (line,) = ax.plot([0, 1], [0, 1])
    assert any(g.get_visible() for g in ax.get_ygridlines())  # seaborn's whitegrid
    assert matplotlib.colors.to_hex(line.get_color()) == matplotlib.colors.to_hex(sns.color_palette("colorblind")[0])
    plain = Figure().subplots()  # made outside the style: matplotlib's own defaults
    assert not any(g.get_visible() for g in plain.get_ygridlines())


def test_without_an_axes_a_function_draws_a_pyplot_figure_for_notebooks():
    import matplotlib.pyplot as plt

    bars, *_ = _frames()
    ax = figures.shot_bars(bars)
    assert ax.figure.number in plt.get_fignums()
    plt.close(ax.figure)


def test_run_overview_shows_the_test_accuracy_per_epoch_of_a_test_every_run():
    """The committed test_every record gets a panel with its history's test curves and best epochs;
    a record without them (the fp32 run) keeps two panels."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    gap = Path(__file__).resolve().parents[1] / "results" / "analysis" / "cifar10_lt_gap"
    run = gap / "cifar10_lt-r100-causal_norm-test_every-s0"
    hist = pd.read_csv(run / "history.csv")
    fig = figures.run_overview(run)
    try:
        assert len(fig.axes) == 4  # loss (with its accuracy twin), test curves, shot bars
        panel = next(ax for ax in fig.axes if ax.get_title() == "test accuracy per epoch")
        lines = {line.get_label(): line for line in panel.get_lines()}
        tested = hist.dropna(subset=["test_tde"])  # epoch 56: its test pass was lost to a stop (docs/cifar10_lt_gap.md)
        assert len(tested) == len(hist) - 1
        np.testing.assert_array_equal(lines["TDE"].get_xdata(), tested.epoch)
        np.testing.assert_array_equal(lines["TDE"].get_ydata(), tested.test_tde)
        np.testing.assert_array_equal(lines["plain"].get_ydata(), tested.test_plain)
        best = hist.loc[hist.test_tde.idxmax()]
        marker = lines[f"TDE best: {best.test_tde:.1f} at epoch {int(best.epoch)}"]
        assert list(marker.get_xdata()) == [best.epoch] and list(marker.get_ydata()) == [best.test_tde]
    finally:
        plt.close(fig)
    fig = figures.run_overview(gap / "cifar10_lt-r100-causal_norm-fp32-s0")
    try:
        assert len(fig.axes) == 3 and not any(ax.get_title() == "test accuracy per epoch" for ax in fig.axes)
    finally:
        plt.close(fig)


def test_per_class_comparison_draws_each_run_class_by_class(tmp_path):
    """The gap analysis figure: one panel per evaluation, one line per run, each point a class's
    accuracy from that run's per_class.csv at the class's training count; runs with other class
    counts are refused."""
    import shutil
    from pathlib import Path

    import matplotlib.pyplot as plt
    import pytest

    from ltkit.report.writers import per_class_of_runs

    gap = Path(__file__).resolve().parents[1] / "results" / "analysis" / "cifar10_lt_gap"
    folders = {
        "lossless": gap / "cifar10_lt-r100-causal_norm-lossless-s0",
        "q75": gap / "cifar10_lt-r100-causal_norm-test_every-s0",
    }
    per_class = per_class_of_runs(folders)
    fig = figures.per_class_comparison(per_class, titles=["De-confound", "De-confound-TDE"])
    try:
        assert [ax.get_title() for ax in fig.axes] == ["De-confound", "De-confound-TDE"]
        for ax, col in zip(fig.axes, ("acc_plain", "acc_tde")):
            lines = {line.get_label(): line for line in ax.get_lines()}
            assert set(lines) == set(folders)
            for label, df in per_class.items():
                df = df.sort_values("train_count", ascending=False)
                np.testing.assert_array_equal(lines[label].get_xdata(), df.train_count)
                np.testing.assert_array_equal(lines[label].get_ydata(), df[col])
    finally:
        plt.close(fig)
    other = tmp_path / "other"
    shutil.copytree(folders["q75"], other)
    pc = pd.read_csv(other / "per_class.csv")
    pc.loc[9, "train_count"] = 100  # another imbalance
    pc.to_csv(other / "per_class.csv", index=False)
    with pytest.raises(ValueError, match="different class counts"):
        per_class_of_runs({"lossless": folders["lossless"], "other": other})
    with pytest.raises(FileNotFoundError, match="per_class.csv not found"):
        per_class_of_runs({"none": tmp_path / "missing"})
