"""Naming the middle steps of an interpolation (`evaluation.step_kinds`)."""

from __future__ import annotations

from nvae.evaluation.step_kinds import splice_coverage, step_kind, step_kinds

A = "the castle was built in the twelfth century."
B = "he returned to the city the next day."


def test_a_copy_of_either_endpoint():
    assert step_kind(A, A, B) == "copy"
    assert step_kind(B.upper(), A, B) == "copy"  # compared lower-cased


def test_a_prefix_of_one_then_a_suffix_of_the_other_is_a_splice_in_either_order():
    assert step_kind("the castle was built the next day.", A, B) == "splice"
    assert step_kind("he returned to the twelfth century.", A, B) == "splice"
    assert splice_coverage("the castle was built the next day.", A, B) == 1.0


def test_one_endpoint_then_the_other_is_a_concatenation():
    assert step_kind(A + " " + B, A, B) == "concatenation"
    assert step_kind("the castle was built in the twelfth century " + B, A, B) == "concatenation"
    assert step_kind(B + " " + A, A, B) == "concatenation"


def test_a_new_sentence_is_other_and_its_coverage_is_partial():
    step = "the castle returned to a village in the north."
    assert step_kind(step, A, B) == "other"
    assert 0.0 < splice_coverage(step, A, B) < 1.0
    assert step_kind("a river flows north!", A, B) == "other"
    assert splice_coverage("a river flows north!", A, B) == 0.0


def test_counts_over_strips_skip_the_endpoints():
    strip = [A, A, "the castle was built the next day.", "a river flows north.", B]
    out = step_kinds([strip, [A, B]])  # a strip without middle steps adds nothing
    assert out["steps"] == 3
    assert out["counts"] == {"copy": 1, "splice": 1, "concatenation": 0, "other": 1}
    assert abs(sum(out["shares"].values()) - 1.0) < 1e-9
    assert 0.0 < out["mean_splice_coverage"] < 1.0
    assert step_kinds([])["shares"]["copy"] is None
