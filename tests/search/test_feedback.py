"""Pseudo-relevance feedback: fused hits re-ranked by their agreement with the best hits' centroid."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from hub.config import Settings
from hub.search.index import Hit, Ranking
from hub.search.search import with_feedback


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def ranked(hits: list[tuple[str, float, np.ndarray]], ranking: Ranking) -> list[Hit]:
    return with_feedback([Hit(key, score, {"key": key}) for key, score, _ in hits],
                         np.stack([v for _, _, v in hits]).astype(np.float16), ranking)


def test_a_hit_that_agrees_with_the_best_moves_above_an_outlier() -> None:
    ranking = Ranking(feedback=0.2, feedback_depth=3)
    hits = ranked([("a", 0.90, unit(1, 0.1, 0)),
                   ("outlier", 0.86, unit(0, 0, 1)),  # scored high, unlike the rest
                   ("b", 0.85, unit(1, 0, 0.1)),
                   ("c", 0.60, unit(0.9, 0.2, 0))], ranking)
    assert [h.id for h in hits] == ["a", "b", "outlier", "c"]
    assert [h.payload["key"] for h in hits] == ["a", "b", "outlier", "c"]  # payloads travel with their hits
    assert all(later.score <= earlier.score for earlier, later in pairwise(hits))


def test_nothing_to_learn_from_leaves_the_order_alone() -> None:
    one = [Hit("a", 0.9, {})]
    assert with_feedback(one, np.stack([unit(1, 0)]), Ranking()) == one
    assert with_feedback([], np.zeros((0, 2)), Ranking()) == []
    opposite = [Hit("a", 0.9, {}), Hit("b", 0.8, {})]  # a centroid of zero length says nothing
    assert with_feedback(opposite, np.stack([unit(1, 0), unit(-1, 0)]), Ranking(feedback_depth=2)) == opposite


def test_feedback_belongs_to_linear_fusion_and_can_be_turned_off() -> None:
    assert Ranking().uses_feedback
    assert not Ranking(feedback=0).uses_feedback
    assert not any(Ranking(method=m).uses_feedback for m in ("dense", "lexical", "rrf", "dbsf"))


def test_each_fusion_has_its_own_default_weights_and_configured_ones_win() -> None:
    # linear weighs scores and rrf weighs ranks: one default for both would be wrong for one of them
    assert Ranking().fusion_weights == (1.0, 0.044)
    assert Ranking(method="rrf").fusion_weights == (1.0, 0.4)
    assert Ranking(method="rrf", weights=(1.0, 2.0)).fusion_weights == (1.0, 2.0)
    assert Settings().search_weights is None
