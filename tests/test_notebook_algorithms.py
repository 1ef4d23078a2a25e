"""The algorithms notebook 05 writes out where it teaches them agree with the package's tested copies.

The lesson cells define ``majority_vote``, ``greedy_weights`` and the ``Snapshots`` callback in the
student's view; ``cnncourse.ensembles`` and ``cnncourse.training`` keep the versions the unit tests
cover. This test executes the notebook's definitions (only those cells, no training) and checks that
they compute the same thing, so the two cannot drift apart.
"""
from __future__ import annotations

import ast

import numpy as np
import pytest

from cnncourse import ensembles
from tests.test_notebooks import ROOT, cells, source

NOTEBOOK = ROOT / "notebooks" / "05_ensembles.ipynb"


def definition(prefix: str) -> dict:
    """The functions and classes defined in the one code cell of notebook 05 that starts with ``prefix``."""
    found = [c for c in cells(NOTEBOOK) if c["cell_type"] == "code" and source(c).startswith(prefix)]
    assert len(found) == 1, f"notebook 05 should define {prefix!r} in exactly one cell, found {len(found)}"
    import keras
    tree = ast.parse(source(found[0]))
    tree.body = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]  # definitions only
    namespace = {"np": np, "keras": keras}
    exec(compile(tree, f"05:{prefix}", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("members", [2, 3, 4, 5])
def test_majority_vote_matches_the_package(members):
    vote = definition("def majority_vote")["majority_vote"]
    rng = np.random.default_rng(members)
    probs = [rng.dirichlet(np.ones(4), 400) for _ in range(members)]
    # exact ties in the summed probability as well: identical members
    probs.append(probs[0].copy())
    np.testing.assert_array_equal(vote(probs), ensembles.majority_vote(probs))


def test_majority_vote_tie_rule():
    vote = definition("def majority_vote")["majority_vote"]
    a = np.array([[0.6, 0.4]])
    b = np.array([[0.3, 0.7]])
    # one vote each: the larger summed probability wins (class 1: 1.1 against 0.9)
    assert vote([a, b]).tolist() == [1]
    # one vote each and equal sums: the lower class wins
    assert vote([np.array([[0.5, 0.5]]), np.array([[0.5, 0.5]])]).tolist() == [0]


def test_greedy_weights_match_the_package():
    greedy = definition("def greedy_weights")["greedy_weights"]
    rng = np.random.default_rng(1)
    probs = [rng.dirichlet(np.ones(10) * k, 600) for k in (0.5, 1, 2, 4)]
    y = rng.integers(0, 10, (600, 1))
    np.testing.assert_allclose(greedy(probs, y, rounds=15), ensembles.greedy_weights(probs, y, rounds=15))
    assert greedy(probs, y).sum() == pytest.approx(1.0)


def test_snapshots_callback_keeps_weights_at_cycle_ends():
    import keras
    snapshots_class = definition("class Snapshots")["Snapshots"]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    snaps = snapshots_class(every=2)
    model.fit(x, y, epochs=5, verbose=0, callbacks=[snaps])
    assert snaps.epochs == [2, 4]
    assert len(snaps.weights) == 2
    # copies, not views of the live weights: the two snapshots differ and the last differs from the end state
    assert not np.allclose(snaps.weights[0][0], snaps.weights[1][0])
    assert not np.allclose(snaps.weights[1][0], model.get_weights()[0])
