from __future__ import annotations

import pytest

from simages.nearest import QuerySpec


def test_parse_accepts_user_text():
    assert QuerySpec.parse("Cosine", "kNN", " 10 ") == QuerySpec("cosine", "knn", 10)
    assert QuerySpec.parse("euclidean", "range", "0.75") == QuerySpec("euclidean", "range", 0.75)
    assert QuerySpec.parse("cosine", "range", "-0.2").param == -0.2
    assert QuerySpec.parse("cosine", "knn", 3.0).param == 3


@pytest.mark.parametrize(
    ("metric", "predicate", "param", "message"),
    [
        ("cosine", "knn", "0", "k must be a positive integer"),
        ("cosine", "knn", "-3", "k must be a positive integer"),
        ("cosine", "knn", "2.5", "k must be a positive integer"),
        ("cosine", "knn", "ten", "k must be a positive integer"),
        ("cosine", "range", "1.5", "between -1 and 1"),
        ("cosine", "range", "-1.01", "between -1 and 1"),
        ("euclidean", "range", "-0.1", "0 or more"),
        ("euclidean", "range", "nan", "finite number"),
        ("cosine", "range", "high", "must be a number"),
        ("manhattan", "knn", "3", "choose cosine or euclidean"),
        ("cosine", "top", "3", "choose knn"),
    ],
)
def test_parse_rejects_bad_input_with_a_message_naming_the_rule(metric, predicate, param, message):
    with pytest.raises(ValueError, match=message):
        QuerySpec.parse(metric, predicate, param)


def test_direct_construction_is_validated_too():
    with pytest.raises(ValueError):
        QuerySpec("cosine", "knn", 0)
    with pytest.raises(ValueError):
        QuerySpec("cosine", "knn", True)


def test_describe_reads_naturally():
    assert QuerySpec("cosine", "range", 0.8).describe() == "cosine similarity >= 0.8"
    assert QuerySpec("euclidean", "knn", 5).describe() == "5 nearest by euclidean distance"
