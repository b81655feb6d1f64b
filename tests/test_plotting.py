"""Unit tests for course_utils.plotting (headless: conftest selects the Agg backend)."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import plotting as P


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def suptitle(fig: Figure) -> str:
    return fig._suptitle.get_text() if fig._suptitle is not None else ""


def titles(fig: Figure) -> list[str]:
    return [suptitle(fig)] + [ax.get_title() for ax in fig.axes]


def imgs(n=4, shape=(28, 28), seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype(np.float32)


def test_backend_is_headless():
    assert matplotlib.get_backend().lower() == "agg"


@pytest.mark.parametrize("batch", [imgs(5), imgs(5)[..., None], imgs(5).reshape(5, 784)])
def test_image_grid_accepts_image_layouts(batch):
    fig = P.image_grid(batch, titles=[f"t{i}" for i in range(5)], ncols=3, title="Samples")
    assert isinstance(fig, Figure)
    assert suptitle(fig) == "Samples"
    assert len(fig.axes) == 6  # 2 rows x 3 columns
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5
    np.testing.assert_allclose(shown[2].images[0].get_array(), np.asarray(batch).reshape(5, 28, 28)[2])
    assert [ax.get_title() for ax in shown] == [f"t{i}" for i in range(5)]
    fig.canvas.draw()


def test_image_grid_ncols_capped_by_n():
    fig = P.image_grid(imgs(3), ncols=10, title="x")
    assert len(fig.axes) == 3


@pytest.mark.parametrize("bad", [np.zeros((28, 28)), np.zeros((2, 28, 28, 3)), np.zeros((2, 100)), np.zeros(5)])
def test_image_grid_bad_shape(bad):
    with pytest.raises(ValueError, match="shape"):
        P.image_grid(bad)


def test_reconstruction_rows():
    x = imgs(6)
    fig = P.reconstruction_rows(x, {"dense": x * 0.5, "conv": x[..., None]}, n=4, title="Recon")
    assert suptitle(fig) == "Recon"
    assert len(fig.axes) == 3 * 4
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["original", "dense", "conv"]
    np.testing.assert_allclose(fig.axes[4].images[0].get_array(), x[0] * 0.5)  # row 2, column 1
    fig.canvas.draw()


def test_reconstruction_rows_default_title():
    fig = P.reconstruction_rows(imgs(2), {"m": imgs(2)}, n=2)
    assert suptitle(fig)


def test_reconstruction_rows_bad_shape():
    with pytest.raises(ValueError):
        P.reconstruction_rows(imgs(2), {"m": np.zeros((2, 5))}, n=2)


def test_latent_scatter():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(60, 2))
    y = np.repeat([0, 1, 2], 20)
    fig = P.latent_scatter(z, y, title="Codes", class_names=["zero", "one", "two"])
    ax = fig.axes[0]
    assert ax.get_title() == "Codes"
    assert ax.get_xlabel() and ax.get_ylabel()
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["zero", "one", "two"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 60
    fig.canvas.draw()


def test_latent_scatter_max_points_and_default_title():
    z = np.random.default_rng(1).normal(size=(50, 2))
    y = np.arange(50) % 5
    fig = P.latent_scatter(z, y, max_points=20)
    ax = fig.axes[0]
    assert ax.get_title()
    assert sum(len(c.get_offsets()) for c in ax.collections) == 20
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2", "3", "4"]


def test_latent_scatter_axis_labels():
    z = np.random.default_rng(2).normal(size=(10, 2))
    fig = P.latent_scatter(z, np.zeros(10), axis_labels=("t-SNE dimension 1", "t-SNE dimension 2"))
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("t-SNE dimension 1", "t-SNE dimension 2")
    assert "z_1" in P.latent_scatter(z, np.zeros(10)).axes[0].get_xlabel()
    with pytest.raises(ValueError, match="two axis labels"):
        P.latent_scatter(z, np.zeros(10), axis_labels=("only one",))


@pytest.mark.parametrize("z", [np.zeros((10, 3)), np.zeros(10), np.zeros((10, 2, 1))])
def test_latent_scatter_bad_shape(z):
    with pytest.raises(ValueError, match="latent_scatter"):
        P.latent_scatter(z, np.zeros(10))


def test_latent_scatter_label_count_mismatch():
    with pytest.raises(ValueError, match="label"):
        P.latent_scatter(np.zeros((10, 2)), np.zeros(7))


class FakeHistory:
    def __init__(self, history):
        self.history = history


def test_training_curves():
    hists = {
        "dense": {"loss": [3.0, 2.0, 1.5], "val_loss": [3.2, 2.4, 2.0]},
        "conv": FakeHistory({"loss": [2.0, 1.0], "val_loss": [2.1, 1.2], "acc": [0.5, 0.6]}),
    }
    fig = P.training_curves(hists, title="Curves", logy=True)
    ax = fig.axes[0]
    assert ax.get_title() == "Curves"
    assert ax.get_xlabel() == "epoch" and "loss" in ax.get_ylabel()
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["dense: loss", "dense: val_loss", "conv: loss", "conv: val_loss"]
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])  # epochs count from 1
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0, 1.5])
    fig.canvas.draw()


def test_training_curves_custom_keys_default_title():
    fig = P.training_curves({"r": {"loss": [1, 2], "kl": [0.1, 0.2]}}, keys=("kl",))
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_yscale() == "linear"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["r: kl"]


def test_confusion_matrix_plot():
    cm = np.array([[5, 1, 0], [0, 7, 2], [1, 0, 9]])
    fig = P.confusion_matrix_plot(cm, title="CM", class_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert ax.get_title() == "CM"
    assert ax.get_xlabel() and ax.get_ylabel()
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(v) for v in cm.ravel()]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)
    assert len(fig.axes) == 2  # heat map and colour bar
    fig.canvas.draw()


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((2, 2, 2))])
def test_confusion_matrix_plot_bad_shape(bad):
    with pytest.raises(ValueError, match="2-D"):
        P.confusion_matrix_plot(bad)


def test_functions_leave_no_figure_unreturned():
    before = set(plt.get_fignums())
    fig = P.confusion_matrix_plot(np.eye(2))
    assert set(plt.get_fignums()) - before == {fig.number}


def test_training_curves_without_any_requested_key_names_the_available_ones():
    import pytest

    from course_utils import plotting

    with pytest.raises(ValueError, match="available: \\['loss'\\]"):
        plotting.training_curves({"run": {"loss": [1.0, 0.5]}}, keys=("val_loss",))


def test_image_grid_rejects_a_wrong_number_of_titles():
    with pytest.raises(ValueError, match="3 images but 2 titles"):
        P.image_grid(np.zeros((3, 28, 28)), titles=["a", "b"])


def test_confusion_matrix_labels_every_tick_and_checks_class_names():
    fig = P.confusion_matrix_plot(np.eye(10, dtype=int))
    ax = fig.axes[0]
    assert len(ax.get_xticks()) == 10 and len(ax.get_yticks()) == 10
    with pytest.raises(ValueError, match="class names"):
        P.confusion_matrix_plot(np.eye(3, dtype=int), class_names=["a", "b"])
