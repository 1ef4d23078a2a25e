import keras
import matplotlib
import numpy as np
import pytest

from cnncourse import plots

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def histories():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    out = {}
    for name, width in (("small", 2), ("wide", 16)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(width, activation="relu"),
                                  keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        out[name] = model.fit(x, y, validation_split=0.25, epochs=4, verbose=0)
    return out


def test_learning_curves_from_one_history(histories):
    fig = plots.learning_curves(histories["small"], show=False)
    acc, loss = fig.axes
    assert [line.get_label() for line in acc.lines][:2] == ["train", "validation"]
    train = acc.lines[0].get_ydata()
    assert np.allclose(train, histories["small"].history["accuracy"])
    best = plots.best_epoch(histories["small"])
    marker = [line for line in loss.lines if line.get_label().startswith("best epoch")][0]
    assert marker.get_xdata()[0] == best


def test_learning_curves_overlay_runs_with_one_colour_each(histories):
    fig = plots.learning_curves(histories, show=False)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "small train" in labels and "wide validation" in labels
    colours = {line.get_label().split()[0]: line.get_color() for line in fig.axes[0].lines}
    assert colours["small"] != colours["wide"]


def test_learning_curves_rejects_garbage():
    with pytest.raises(TypeError):
        plots.learning_curves(42, show=False)


def test_best_epoch_direction():
    h = {"val_loss": [1.0, 0.5, 0.7], "val_accuracy": [0.1, 0.3, 0.9]}
    assert plots.best_epoch(h) == 3            # the course's definition: highest validation accuracy
    assert plots.best_epoch(h, "val_loss") == 2


def test_image_grid_marks_wrong_predictions_red():
    images = np.zeros((5, 8, 8, 3), dtype=np.uint8)
    fig = plots.image_grid(images, labels=[0, 1, 2, 0, 1], class_names=["cat", "dog", "ship"],
                           predictions=[0, 2, 2, 1, 1], ncols=3, show=False)
    titles = [(ax.get_title(), ax.title.get_color()) for ax in fig.axes if ax.get_title()]
    assert titles == [("cat", "black"), ("ship (dog)", "red"), ("ship", "black"), ("dog (cat)", "red"),
                      ("dog", "black")]


def test_confusion_counts_and_normalised_matrix():
    y_true = [0, 0, 1, 1, 2]
    y_pred = np.eye(3)[[0, 1, 1, 1, 0]]  # one-hot predictions are accepted too
    counts = plots.confusion_counts(y_true, y_pred)
    assert counts.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    fig = plots.confusion_matrix(y_true, y_pred, ["a", "b", "c"], show=False)
    image = fig.axes[0].images[0].get_array()
    assert np.allclose(image.sum(1), 1.0)


def test_curves_grid_draws_one_panel_per_run_on_shared_axes(histories):
    fig = plots.curves_grid(histories, show=False)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == 2
    assert panels[0].get_shared_y_axes().joined(panels[0], panels[1])
    for ax, (name, h) in zip(panels, histories.items()):
        assert ax.get_title().startswith(name)
        assert np.allclose(ax.lines[0].get_ydata(), h.history["accuracy"])
        assert np.allclose(ax.lines[1].get_ydata(), h.history["val_accuracy"])
        best = plots.best_epoch(h)
        assert f"best epoch {best}" in ax.get_title()


def test_curves_grid_hides_unused_panels(histories):
    runs = {f"run {i}": histories["small"] for i in range(5)}
    fig = plots.curves_grid(runs, ncols=3, show=False)
    assert len(fig.axes) == 6
    assert sum(ax.axison for ax in fig.axes) == 5


def test_image_grid_takes_ready_made_titles():
    images = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    fig = plots.image_grid(images, ["a cat\nP(dog) = 0.10", "b", "c"], ncols=3, show=False)
    assert [ax.get_title() for ax in fig.axes] == ["a cat\nP(dog) = 0.10", "b", "c"]


def test_validation_every_k_epochs_is_plotted_at_the_epochs_it_was_measured():
    # fit(..., validation_freq=5) over 20 epochs logs validation after epochs 5, 10, 15 and 20 only
    h = {"loss": [1.0] * 20, "accuracy": [0.5] * 20,
         "val_loss": [0.9, 0.7, 0.8, 0.95], "val_accuracy": [0.6, 0.7, 0.65, 0.6]}
    assert plots.logged_epochs(h, "val_loss").tolist() == [5, 10, 15, 20]
    assert plots.logged_epochs(h, "loss").tolist() == list(range(1, 21))
    assert plots.best_epoch(h) == 10 and plots.best_epoch(h, "val_loss") == 10
    fig = plots.curves_grid({"run": h}, show=False)
    line = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "validation"][0]
    assert list(line.get_xdata()) == [5, 10, 15, 20]
    assert "best epoch 10" in fig.axes[0].get_title()
    fig = plots.learning_curves(h, show=False)
    assert all(float(t).is_integer() for t in fig.axes[0].get_xticks())


def test_learning_curves_mark_where_a_phase_starts(histories):
    fig = plots.learning_curves(histories["small"], marks={2.5: "phase B starts"}, show=False)
    for ax in fig.axes:
        mark = [line for line in ax.lines if line.get_label() == "phase B starts"]
        assert len(mark) == 1 and list(mark[0].get_xdata()) == [2.5, 2.5]


def test_image_grid_makes_room_for_titles_of_several_lines():
    images = np.zeros((4, 8, 8, 3), dtype=np.uint8)
    one = plots.image_grid(images, ["a"] * 4, ncols=2, size=2.0, show=False)
    four = plots.image_grid(images, ["a\nb\nc\nd"] * 4, ncols=2, size=2.0, show=False)
    assert four.get_size_inches()[1] > one.get_size_inches()[1] + 2 * 3 * 0.17 - 1e-6


def test_a_two_class_confusion_matrix_is_not_a_thumbnail():
    fig = plots.confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0], ["cat", "dog"], normalize=False, show=False)
    width, height = fig.get_size_inches() * fig.dpi
    assert width >= 4.5 * fig.dpi and height >= 3.8 * fig.dpi
