"""--verify's comparison of a committed run with its retraining."""

from __future__ import annotations

from owslib.study.verify import first_difference


def test_an_option_the_protocol_gained_later_at_its_default_is_no_difference():
    committed = {"miou": 0.5, "protocol": {"options": {"bins": 100}}}
    same = {"miou": 0.5, "protocol": {"options": {"bins": 100, "component_area_scale": 1.0}}}
    assert first_difference(committed, same) is None
    other = {"miou": 0.5, "protocol": {"options": {"bins": 100, "component_area_scale": 0.25}}}
    assert first_difference(committed, other) == (
        "protocol/options/component_area_scale (only in the retrained run)"
    )
    unknown = {"miou": 0.5, "protocol": {"options": {"bins": 100, "not_an_option": 1.0}}}
    assert "not_an_option" in first_difference(committed, unknown)
    elsewhere = {"miou": 0.5, "component_area_scale": 1.0, "protocol": {"options": {"bins": 100}}}
    assert "only in the retrained run" in first_difference(committed, elsewhere)


def test_a_changed_number_is_named_with_both_values():
    assert first_difference({"a": {"b": [1.0, 2.0]}}, {"a": {"b": [1.0, 2.5]}}) == (
        "a/b/1: 2.0 committed, 2.5 retrained"
    )
    assert first_difference({"x": float("nan")}, {"x": float("nan")}) is None
