"""Unit tests for course_utils.plotting (headless: conftest selects the Agg backend)."""

from __future__ import annotations

import inspect
import re

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
    default = P.latent_scatter(z, np.zeros(10)).axes[0]
    assert "z_1" in default.get_xlabel() and "code dimension 1" in default.get_xlabel()
    assert "code dimension 2" in default.get_ylabel()
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
    fig = P.training_curves(hists, ylabel="loss (BCE per image)", title="Curves", logy=True)
    ax = fig.axes[0]
    assert ax.get_title() == "Curves"
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss (BCE per image)"
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "dense: training loss",
        "dense: validation loss",
        "conv: training loss",
        "conv: validation loss",
    ]
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])  # epochs count from 1
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0, 1.5])
    fig.canvas.draw()


def test_training_curves_custom_keys_default_title():
    fig = P.training_curves({"r": {"loss": [1, 2], "kl_loss": [0.1, 0.2]}}, keys=("kl_loss",), ylabel="KL (nats)")
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_yscale() == "linear"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["r: training KL loss"]


def test_training_curves_requires_a_ylabel_in_words():
    hist = {"r": {"loss": [1.0, 0.5]}}
    with pytest.raises(TypeError, match="ylabel=.*e.g."):
        P.training_curves(hist)
    for empty in ("", "   "):
        with pytest.raises(ValueError, match="ylabel"):
            P.training_curves(hist, ylabel=empty)
    with pytest.raises(TypeError):
        P.training_curves(hist, ("loss",), "MSE")  # ylabel is keyword-only


@pytest.mark.parametrize(
    "key, words",
    [
        ("loss", "training loss"),
        ("val_loss", "validation loss"),
        ("mse", "training MSE"),
        ("val_mse", "validation MSE"),
        ("val_mae", "validation MAE"),
        ("kl_loss", "training KL loss"),
        ("val_reconstruction_loss", "validation reconstruction loss"),
        ("val_kl_loss", "validation KL loss"),
        ("clustering_loss", "training clustering loss"),
    ],
)
def test_key_in_words(key, words):
    assert P.key_in_words(key) == words


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
        plotting.training_curves({"run": {"loss": [1.0, 0.5]}}, keys=("val_loss",), ylabel="loss")


def test_image_grid_rejects_a_wrong_number_of_titles():
    with pytest.raises(ValueError, match="3 images but 2 titles"):
        P.image_grid(np.zeros((3, 28, 28)), titles=["a", "b"])


def test_confusion_matrix_labels_every_tick_and_checks_class_names():
    fig = P.confusion_matrix_plot(np.eye(10, dtype=int))
    ax = fig.axes[0]
    assert len(ax.get_xticks()) == 10 and len(ax.get_yticks()) == 10
    with pytest.raises(ValueError, match="class names"):
        P.confusion_matrix_plot(np.eye(3, dtype=int), class_names=["a", "b"])


# ------------------------------------------------------------------------------------------
# Row labels
# ------------------------------------------------------------------------------------------


def test_image_grid_row_labels_sit_left_of_each_row_and_stay_visible():
    fig = P.image_grid(imgs(12), ncols=4, title="Denoising", row_labels=["clean", "noisy", "denoised"])
    axes = np.asarray(fig.axes).reshape(3, 4)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["clean", "noisy", "denoised"]
    for ax in axes[:, 0]:
        assert ax.axison and ax.yaxis.label.get_visible()  # not axis("off"): the label must show
        assert not ax.get_xticks().size and not ax.get_yticks().size
        assert not any(spine.get_visible() for spine in ax.spines.values())
    assert not any(ax.get_ylabel() for ax in axes[:, 1:].flat)
    assert sum(bool(ax.images) for ax in fig.axes) == 12
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in axes[:, 0]:  # drawn to the left of the image
        assert ax.yaxis.label.get_window_extent(renderer).x1 <= ax.get_window_extent(renderer).x0 + 1


def test_image_grid_row_labels_need_one_per_row():
    with pytest.raises(ValueError, match="2 row labels for a grid of 3 rows"):
        P.image_grid(imgs(12), ncols=4, row_labels=["a", "b"])
    with pytest.raises(ValueError, match="one label per row"):
        P.image_grid(imgs(5), ncols=2, row_labels=["a", "b"])  # 5 images in rows of 2: 3 rows


def test_image_grid_without_row_labels_hides_every_axis():
    fig = P.image_grid(imgs(4), ncols=2)
    assert not any(ax.axison for ax in fig.axes)


# ------------------------------------------------------------------------------------------
# Every helper, rendered: a title, axis labels in words, legends and row labels
# ------------------------------------------------------------------------------------------

_RAW_KERAS_KEY = re.compile(r"^(val_)?[a-z]+(_[a-z]+)*$")  # e.g. val_loss, kl_loss, mse


def _words(text: str) -> bool:
    """A label in words: set, and not a raw Keras key such as 'val_loss' (one lowercase token with underscores)."""
    return bool(text.strip()) and not ("_" in text and _RAW_KERAS_KEY.match(text.strip()))


def _render(name):
    rng = np.random.default_rng(0)
    if name == "image_grid":
        return P.image_grid(imgs(6), ncols=3, title="Two kinds", row_labels=["clean", "noisy"])
    if name == "reconstruction_rows":
        return P.reconstruction_rows(imgs(3), {"dense": imgs(3, seed=1)}, n=3)
    if name == "latent_scatter":
        return P.latent_scatter(rng.normal(size=(30, 2)), np.arange(30) % 3)
    if name == "training_curves":
        return P.training_curves(
            {"a": {"val_kl_loss": [2.0, 1.0], "kl_loss": [2.5, 1.5]}},
            ("kl_loss", "val_kl_loss"),
            ylabel="KL per image (nats)",
        )
    if name == "confusion_matrix_plot":
        return P.confusion_matrix_plot(np.array([[3, 1], [0, 4]]), class_names=["zero", "one"])
    raise AssertionError(f"no rendering case for plotting.{name}: add one here")


def _figure_helpers():
    return sorted(
        name
        for name, obj in vars(P).items()
        if inspect.isfunction(obj)
        and obj.__module__ == P.__name__
        and not name.startswith("_")
        and name != "key_in_words"
    )


def test_every_plotting_helper_has_a_rendering_case():
    assert _figure_helpers() == [
        "confusion_matrix_plot",
        "image_grid",
        "latent_scatter",
        "reconstruction_rows",
        "training_curves",
    ]


@pytest.mark.parametrize("name", _figure_helpers())
def test_every_helper_renders_headless_with_title_and_labels_in_words(name):
    fig = _render(name)
    assert isinstance(fig, Figure)
    fig.canvas.draw()  # the Agg backend renders it
    assert any(t.strip() for t in titles(fig)), f"{name}: no title"
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    plots = [
        ax for ax in fig.axes if ax not in colorbars and (ax.lines or ax.collections or (ax.images and ax.get_xlabel()))
    ]
    assert plots or name in ("image_grid", "reconstruction_rows"), f"{name}: no data axes found"
    for ax in plots:  # plots with data axes: both axis labels in words
        assert _words(ax.get_xlabel()) and _words(ax.get_ylabel()), (name, ax.get_xlabel(), ax.get_ylabel())
    for ax in colorbars:
        assert _words(ax.get_ylabel()), f"{name}: colour bar without a label"
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            assert all(_words(t.get_text()) for t in legend.get_texts()), name
    row_labels = [ax.get_ylabel() for ax in fig.axes if ax.images and not ax.get_xlabel() and ax.get_ylabel()]
    if name in ("image_grid", "reconstruction_rows"):
        expected = ["clean", "noisy"] if name == "image_grid" else ["original", "dense"]
        assert row_labels == expected, name


def test_training_curves_legend_and_axes_never_show_raw_keras_keys():
    fig = P.training_curves(
        {"run": {"val_mse": [1.0, 0.5], "mse": [1.2, 0.6]}}, ("mse", "val_mse"), ylabel="MSE per pixel"
    )
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()] + [ax.get_xlabel(), ax.get_ylabel()]
    assert texts == ["run: training MSE", "run: validation MSE", "epoch", "MSE per pixel"]
    assert not any("val_" in t for t in texts)
