"""cnncourse.ensembles: averaging, voting and the weights explorer, on hand-made probabilities (no TensorFlow)."""
import html
import subprocess
import sys

import numpy as np
import pytest

from cnncourse import ensembles as ens

# The lecture's worked example: 4 classes, 2 networks, 2 instances (true labels 2 and 0).
# Instance 0: net A votes 0, net B votes 1, but both put 0.35 on class 2: averaging says 2, the vote says 0
# (a 1-1 tie between classes 0 and 1 with equal summed probability 0.4: the lowest index wins).
# Instance 1: A votes 0, B votes 1; class 0 has the larger summed probability (0.7 vs 0.6) and wins the tie.
NET_A = np.array([[0.40, 0.00, 0.35, 0.25],
                  [0.60, 0.10, 0.10, 0.20]])
NET_B = np.array([[0.00, 0.40, 0.35, 0.25],
                  [0.10, 0.50, 0.10, 0.30]])
Y = np.array([2, 0])


def noisy_copies(members=9, n=2000, classes=10, signal=1.0, noise=1.5, seed=0):
    """Independent noisy members: softmax of (one-hot truth * signal + Gaussian noise)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    logits = signal * np.eye(classes)[y] + rng.normal(0, noise, (members, n, classes))
    e = np.exp(logits - logits.max(axis=2, keepdims=True))
    return e / e.sum(axis=2, keepdims=True), y


def test_module_imports_neither_tensorflow_nor_ipywidgets():
    code = "import sys, cnncourse.ensembles; print(sorted({'tensorflow', 'keras', 'ipywidgets'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_worked_example_average_and_vote_disagree():
    avg = ens.average([NET_A, NET_B])
    np.testing.assert_allclose(avg, [[0.20, 0.20, 0.35, 0.25], [0.35, 0.30, 0.10, 0.25]])
    assert avg.argmax(axis=1).tolist() == [2, 0]
    assert ens.majority_vote([NET_A, NET_B]).tolist() == [0, 0]
    assert ens.accuracy(avg, Y) == 1.0
    assert ens.accuracy(ens.majority_vote({"A": NET_A, "B": NET_B}), Y) == 0.5
    assert ens.vote_counts([NET_A, NET_B]).tolist() == [[1, 1, 0, 0], [1, 1, 0, 0]]


def test_average_is_the_hand_computed_mean():
    rng = np.random.default_rng(1)
    members = [rng.random((5, 3)) for _ in range(3)]
    expected = (members[0] + members[1] + members[2]) / 3
    for form in (members, tuple(members), {"a": members[0], "b": members[1], "c": members[2]}, np.stack(members)):
        np.testing.assert_allclose(ens.average(form), expected)
    stacked = ens.stack([m.astype(np.float32) for m in members])
    assert stacked.shape == (3, 5, 3) and stacked.dtype == np.float64


def test_weighted_average():
    np.testing.assert_array_equal(ens.weighted_average([NET_A, NET_B], (1, 0)), NET_A)
    np.testing.assert_array_equal(ens.weighted_average([NET_A, NET_B], [0, 0.3]), NET_B)
    np.testing.assert_allclose(ens.weighted_average([NET_A, NET_B], [2, 2]), ens.average([NET_A, NET_B]))
    # normalised: (3, 1) is (0.75, 0.25), whatever the scale
    np.testing.assert_allclose(ens.weighted_average([NET_A, NET_B], [3, 1]), 0.75 * NET_A + 0.25 * NET_B)
    np.testing.assert_allclose(ens.weighted_average([NET_A, NET_B], [30, 10]), 0.75 * NET_A + 0.25 * NET_B)
    by_name = ens.weighted_average({"A": NET_A, "B": NET_B}, {"B": 1, "A": 3})
    np.testing.assert_allclose(by_name, 0.75 * NET_A + 0.25 * NET_B)


@pytest.mark.parametrize("probs, match", [
    ([], "no members"),
    ({}, "no members"),
    ([NET_A, NET_B[:1]], r"member 1 has shape \(1, 4\) but member 0 has \(2, 4\)"),
    ({"A": NET_A, "B": NET_B[:, :3]}, r"B has shape \(2, 3\) but A has \(2, 4\)"),
    ([NET_A[0]], r"member 0 has shape \(4,\): each member must be \(N, C\)"),
    ([NET_A[None]], r"shape \(1, 2, 4\): each member must be \(N, C\)"),
    ([np.zeros((0, 4))], r"shape \(0, 4\)"),
    (NET_A, "pass the members as a list"),
    ([NET_A, np.where(NET_B > 0.3, np.nan, NET_B)], "member 1 has NaN or inf"),
    ([NET_A, np.full((2, 4), np.inf)], "NaN or inf"),
    ([NET_A - 0.5], "negative values .*not logits"),
    ([[["a", "b"]]], "not an array of numbers"),
])
def test_stack_errors_are_helpful(probs, match):
    with pytest.raises(ValueError, match=match):
        ens.stack(probs)
    with pytest.raises(ValueError, match=match):
        ens.average(probs)


@pytest.mark.parametrize("weights, match", [
    ([1], r"weights of shape \(1,\) for 2 members"),
    ([1, 2, 3], "one weight per member"),
    ([[1, 2]], "one weight per member"),
    ([1, -0.5], "must be >= 0"),
    ([0, 0], "all weights are 0: give at least one member a weight above 0"),
    ([np.nan, 1], "finite"),
    (["x", 1], "2 numbers, one per member"),
    ({"A": 1}, r"missing \['B'\]"),
    ({"A": 1, "B": 1, "C": 1}, r"unknown \['C'\]"),
])
def test_weight_errors_are_helpful(weights, match):
    with pytest.raises(ValueError, match=match):
        ens.weighted_average({"A": NET_A, "B": NET_B}, weights)


def test_tie_two_votes_higher_summed_probability_wins():
    a = np.array([[0.50, 0.40, 0.10]])   # votes 0
    b = np.array([[0.05, 0.55, 0.40]])   # votes 1; summed: 0.55 for class 0, 0.95 for class 1
    assert ens.majority_vote([a, b]).tolist() == [1]
    assert ens.majority_vote([b, a]).tolist() == [1]   # not the first member's vote


def test_tie_exact_goes_to_the_lowest_class_and_only_among_the_most_voted():
    a = np.array([[0.00, 0.40, 0.25, 0.35]])   # votes 1
    b = np.array([[0.00, 0.25, 0.40, 0.35]])   # votes 2; classes 1 and 2 both sum to 0.65
    # class 3 has the largest summed probability (0.70) but no vote: it cannot win
    assert ens.vote_counts([a, b]).tolist() == [[0, 1, 1, 0]]
    assert ens.majority_vote([a, b]).tolist() == [1]
    assert ens.majority_vote([b, a]).tolist() == [1]
    assert ens.average([a, b]).argmax(axis=1).tolist() == [3]


def test_majority_beats_probability_and_within_member_ties():
    sure = np.array([[0.0, 1.0, 0.0]])
    unsure = np.array([[0.34, 0.33, 0.33]])
    assert ens.majority_vote([unsure, unsure, sure]).tolist() == [0]   # 2 votes to 1, despite the summed 1.66
    assert ens.average([unsure, unsure, sure]).argmax(axis=1).tolist() == [1]
    assert ens.majority_vote([np.array([[0.5, 0.5, 0.0]])]).tolist() == [0]
    labels = ens.majority_vote(np.stack([NET_A, NET_B]))
    assert labels.dtype == np.int64 and labels.shape == (2,)


def test_accuracy_labels_and_probabilities():
    y_col = np.array([[2], [0], [1]], dtype=np.uint8)   # Keras' CIFAR-10 labels are (N, 1) uint8
    probs = np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0.6, 0.3, 0.1]])
    assert ens.accuracy(probs, y_col) == pytest.approx(2 / 3)
    assert ens.accuracy(probs, y_col.ravel()) == pytest.approx(2 / 3)
    assert ens.accuracy(np.array([2, 0, 0]), y_col) == pytest.approx(2 / 3)
    assert ens.accuracy([2.0, 0.0, 1.0], y_col) == 1.0
    assert isinstance(ens.accuracy(probs, y_col), float)
    with pytest.raises(ValueError, match="pred has 3 instances but y has 2"):
        ens.accuracy(probs, [2, 0])
    with pytest.raises(ValueError, match="one-hot"):
        ens.accuracy(probs, np.eye(3))
    with pytest.raises(ValueError, match="labels from 0 to 3 but pred has 3 classes"):
        ens.accuracy(probs, [3, 0, 1])
    with pytest.raises(ValueError, match="integer class labels"):
        ens.accuracy(probs, [0.5, 0, 1])


def test_accuracy_vs_members_given_order_and_shape():
    p, y = noisy_copies(members=5, n=300)
    table = ens.accuracy_vs_members(p, y, orders=1)
    assert list(table.columns) == ["mean", "min", "max", "std"]
    assert list(table.index) == [1, 2, 3, 4, 5] and table.index.name == "k"
    for k in range(1, 6):   # orders=1: only the given order
        assert table.loc[k, "mean"] == ens.accuracy(ens.average(p[:k]), y)
        assert table.loc[k, "std"] == 0
    votes = ens.accuracy_vs_members(list(p), y, orders=1, combine="vote")
    for k in range(1, 6):
        assert votes.loc[k, "mean"] == ens.accuracy(ens.majority_vote(p[:k]), y)


def test_accuracy_vs_members_more_members_help_independent_noisy_copies():
    p, y = noisy_copies()
    single = [ens.accuracy(member, y) for member in p]
    for combine in ens.COMBINES:
        table = ens.accuracy_vs_members(p, y, orders=20, seed=0, combine=combine)
        assert len(table) == 9
        assert table.loc[9, "mean"] >= table.loc[1, "mean"] + 0.1
        assert table["mean"].iloc[::2].is_monotonic_increasing   # odd k: no vote ties, a clear climb
        assert (table["min"] <= table["mean"] + 1e-12).all() and (table["mean"] <= table["max"] + 1e-12).all()
        assert min(single) <= table.loc[1, "min"] and table.loc[1, "max"] <= max(single)
    assert table.loc[9, "std"] == pytest.approx(0, abs=1e-12)   # every order ends with the same 9 members
    again = ens.accuracy_vs_members(p, y, orders=20, seed=0)
    assert again.equals(ens.accuracy_vs_members(p, y, orders=20, seed=0))
    with pytest.raises(ValueError, match="combine must be one of"):
        ens.accuracy_vs_members(p, y, combine="median")
    with pytest.raises(ValueError, match="orders must be"):
        ens.accuracy_vs_members(p, y, orders=0)


def test_weights_report():
    probs = {"A": NET_A, "B": NET_B}
    report = ens.weights_report(probs, Y, [1, 1])
    assert report["names"] == ["A", "B"] and report["weights"] == [0.5, 0.5]
    assert report["weighted_accuracy"] == 1.0 and report["vote_accuracy"] == 0.5
    assert report["member_accuracy"] == {"A": 0.5, "B": 0.0}
    assert (report["best_member"], report["best_accuracy"]) == ("A", 0.5)
    assert report["message"] is None
    report = ens.weights_report([NET_A, NET_B], Y, [0.0, 0.25], names=["first", "second"])
    assert report["weights"] == [0.0, 1.0] and report["weighted_accuracy"] == 0.0
    assert report["raw_weights"] == [0.0, 0.25]
    text = ens.report_text(report)
    assert "weighted average      0.00%" in text and "majority vote        50.00%" in text
    assert "best single member   50.00%  (first)" in text
    assert "second    0.25       1.000    0.00%" in text


def test_weights_report_all_zero_gives_the_sentence():
    report = ens.weights_report({"A": NET_A, "B": NET_B}, Y, [0, 0])
    assert report["weighted_accuracy"] is None and report["weights"] is None
    assert report["message"] == ens.ZERO_WEIGHTS and "raise at least one" in report["message"]
    text = ens.report_text(report)
    assert text.splitlines()[0] == ens.ZERO_WEIGHTS and "majority vote        50.00%" in text
    assert html.escape(ens.ZERO_WEIGHTS) in ens.report_html(report)
    with pytest.raises(ValueError, match=">= 0"):
        ens.weights_report({"A": NET_A, "B": NET_B}, Y, [0, -1])
    with pytest.raises(ValueError, match="must differ"):
        ens.weights_report([NET_A, NET_B], Y, [1, 1], names=["A", "A"])
    with pytest.raises(ValueError, match="3 names for 2 members"):
        ens.weights_report([NET_A, NET_B], Y, [1, 1], names=["A", "B", "C"])


def test_snapshot_without_a_widget():
    text, page = ens.ensemble_snapshot(ens.weights_report({"A": NET_A, "B": NET_B}, Y, [1, 0]))
    assert text.startswith(ens.TITLE) and "Run All Cells" in text and "weighted average     50.00%" in text
    assert "Run All Cells" in page and "weighted average     50.00%" in page


VIEW = "application/vnd.jupyter.widget-view+json"


def test_ensemble_explorer_sliders_update_the_report():
    pytest.importorskip("ipywidgets")
    box = ens.ensemble_explorer({"A": NET_A, "B": NET_B}, Y.reshape(-1, 1), step=0.1)
    assert list(box.sliders) == ["A", "B"]
    assert all(s.value == 1.0 and s.min == 0 and s.max == 1 and s.step == 0.1 for s in box.sliders.values())
    assert "weighted average    100.00%" in box.report.value
    assert "best single member   50.00%  (A)" in box.report.value
    box.sliders["A"].value = 0.0   # B alone: 0 right
    assert "weighted average      0.00%" in box.report.value
    box.sliders["B"].value = 0.0
    assert html.escape(ens.ZERO_WEIGHTS) in box.report.value and "weighted average  " not in box.report.value
    box.sliders["A"].value = 0.5
    assert "weighted average     50.00%" in box.report.value


def test_ensemble_explorer_output_has_a_static_snapshot():
    pytest.importorskip("ipywidgets")
    box = ens.ensemble_explorer({"A": NET_A, "B": NET_B}, Y)
    data = box._repr_mimebundle_()
    assert data[VIEW]["model_id"] == box.model_id
    assert "VBox(" not in data["text/plain"] and "VBox(" not in data["text/html"]
    assert ens.TITLE in data["text/plain"] and "weighted average    100.00%" in data["text/plain"]
    assert "Run All Cells" in data["text/html"]
    box.sliders["A"].value = 0.0
    assert "weighted average      0.00%" in box._repr_mimebundle_()["text/html"]   # the state when displayed


def test_ensemble_explorer_checks_its_inputs_up_front():
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="labels from 0 to 7"):
        ens.ensemble_explorer({"A": NET_A, "B": NET_B}, [7, 0])
    with pytest.raises(ValueError, match="negative"):
        ens.ensemble_explorer({"A": -NET_A}, Y)


def test_greedy_weights_favour_the_better_member_and_sum_to_one():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    good = np.full((400, 4), 0.1)
    good[np.arange(400), y] = 0.7                       # always right, confident
    noise = rng.dirichlet(np.ones(4), 400)              # uninformative
    w = ens.greedy_weights([noise, good], y, rounds=10)
    assert w.sum() == pytest.approx(1.0)
    assert w[1] > w[0] and w[1] == pytest.approx(1.0)
    # two equally good copies: the tie goes to the lower index first, then the weights may spread
    w2 = ens.greedy_weights([good, good], y, rounds=4)
    assert w2[0] >= w2[1] and w2.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="rounds"):
        ens.greedy_weights([good], y, rounds=0)
    with pytest.raises(ValueError, match="labels"):
        ens.greedy_weights([good], y[:10])
