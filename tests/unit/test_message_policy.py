"""Message length and content policies."""

from __future__ import annotations

import pytest

from torimatome.domain.errors import InvalidInput
from torimatome.domain.message_policy import (
    DEFAULT_MESSAGE_POLICY,
    GraphemePolicy,
    MessagePolicy,
    WidthPolicy,
    check_thread_post,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"


def test_the_default_policy_is_a_width_policy_of_one_hundred_units() -> None:
    assert WidthPolicy(limit=100) == DEFAULT_MESSAGE_POLICY
    assert isinstance(DEFAULT_MESSAGE_POLICY, MessagePolicy)
    assert isinstance(GraphemePolicy(), MessagePolicy)


def test_fifty_full_width_characters_pass_and_fifty_one_fail() -> None:
    policy = WidthPolicy()
    assert policy.check("あ" * 50, allow_line_breaks=False) == "あ" * 50
    with pytest.raises(InvalidInput):
        policy.check("あ" * 51, allow_line_breaks=False)


def test_one_hundred_ascii_letters_pass_and_one_hundred_one_fail() -> None:
    policy = WidthPolicy()
    assert policy.check("a" * 100, allow_line_breaks=False) == "a" * 100
    with pytest.raises(InvalidInput):
        policy.check("a" * 101, allow_line_breaks=False)


def test_the_over_limit_error_names_measured_and_limit_in_both_languages() -> None:
    with pytest.raises(InvalidInput) as caught:
        WidthPolicy().check("あ" * 56, allow_line_breaks=False)
    error = caught.value
    assert error.ja == "メッセージは全角50文字（半角100文字）以内で入力してください（現在 112/100）"
    assert str(error) == (
        "The message must be at most 100 width units (50 full-width characters); it measures 112."
    )
    assert error.details["measured"] == 112
    assert error.details["limit"] == 100
    assert error.field == "message"


def test_the_over_limit_text_follows_a_custom_limit() -> None:
    with pytest.raises(InvalidInput) as caught:
        WidthPolicy(limit=40).check("a" * 41, allow_line_breaks=False, field="note")
    assert (
        caught.value.ja
        == "メッセージは全角20文字（半角40文字）以内で入力してください（現在 41/40）"
    )
    assert "41" in str(caught.value)
    assert "40" in str(caught.value)
    assert caught.value.field == "note"


def test_the_grapheme_policy_counts_user_perceived_characters() -> None:
    policy = GraphemePolicy()
    assert policy.check(FAMILY * 50, allow_line_breaks=False) == FAMILY * 50
    with pytest.raises(InvalidInput) as caught:
        policy.check("a" * 51, allow_line_breaks=False)
    assert caught.value.ja == "メッセージは50文字以内で入力してください（現在 51/50）"
    assert caught.value.details == {"field": "message", "measured": 51, "limit": 50}
    assert "51" in str(caught.value)


def test_check_returns_the_nfc_normalised_text() -> None:
    assert WidthPolicy().check("か\u3099", allow_line_breaks=False) == "が"
    assert WidthPolicy().check("①㈱", allow_line_breaks=False) == "①㈱"


def test_measure_normalises_before_measuring() -> None:
    assert WidthPolicy().measure("か\u3099") == 2
    assert GraphemePolicy().measure("e\u0301") == 1
    assert WidthPolicy().measure(FAMILY) == 2


def test_remaining_goes_negative_when_over_the_limit() -> None:
    policy = WidthPolicy()
    assert policy.remaining("") == 100
    assert policy.remaining("あ" * 10) == 80
    assert policy.remaining("あ" * 56) == -12
    assert GraphemePolicy(limit=3).remaining("abcd") == -1


def test_an_empty_cart_message_is_accepted() -> None:
    assert WidthPolicy().check("", allow_line_breaks=False) == ""


@pytest.mark.parametrize(
    ("text", "code_point"),
    [
        ("abc\u0007", "U+0007"),
        ("a\tb", "U+0009"),
        ("abc\u202edef", "U+202E"),
        ("ok\ud800", "U+D800"),
        ("x\u2028", "U+2028"),
    ],
)
def test_controls_bidi_overrides_and_lone_surrogates_are_refused(
    text: str, code_point: str
) -> None:
    for policy in (WidthPolicy(), GraphemePolicy()):
        with pytest.raises(InvalidInput) as caught:
            policy.check(text, allow_line_breaks=True)
        assert caught.value.ja == f"メッセージに使用できない文字が含まれています（{code_point}）"
        assert code_point in str(caught.value)
        assert caught.value.details["code_point"] == code_point


def test_a_line_break_is_refused_in_a_cart_message_and_allowed_in_a_thread_post() -> None:
    with pytest.raises(InvalidInput):
        WidthPolicy().check("一行目\n二行目", allow_line_breaks=False)
    assert check_thread_post(WidthPolicy(), "一行目\n二行目") == "一行目\n二行目"
    assert check_thread_post(WidthPolicy(), "一行目\r\n二行目") == "一行目\r\n二行目"


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "\u3000"])
def test_a_blank_thread_post_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_thread_post(DEFAULT_MESSAGE_POLICY, text)
    assert caught.value.ja == "メッセージを入力してください"
    assert str(caught.value) == "The message is empty."


def test_a_thread_post_is_still_held_to_the_limit() -> None:
    with pytest.raises(InvalidInput):
        check_thread_post(GraphemePolicy(limit=2), "abc")


@pytest.mark.parametrize("value", [None, 42, b"bytes"])
def test_a_non_string_is_refused_with_the_field_named(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        WidthPolicy().check(value, allow_line_breaks=False, field="cart_message")  # type: ignore[arg-type]
    assert caught.value.field == "cart_message"
    assert "cart message" in str(caught.value)
    with pytest.raises(InvalidInput):
        check_thread_post(WidthPolicy(), value)  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [0, -1, True, 1.5])
def test_a_policy_limit_must_be_a_positive_integer(limit: object) -> None:
    with pytest.raises(InvalidInput):
        WidthPolicy(limit=limit)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        GraphemePolicy(limit=limit)  # type: ignore[arg-type]


def test_policies_are_immutable_values() -> None:
    import attrs

    policy = WidthPolicy(limit=60)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.limit = 10  # type: ignore[misc]
    assert policy == WidthPolicy(limit=60)


def test_a_text_far_over_the_limit_is_refused_before_it_is_scanned() -> None:
    with pytest.raises(InvalidInput) as caught:
        WidthPolicy().check("x" * 10_000_000 + "\x00", allow_line_breaks=False)
    assert "以上/100" in caught.value.ja
    assert caught.value.details["measured"] > 100


def test_the_grapheme_policy_counts_overlong_clusters_per_block_too() -> None:
    assert GraphemePolicy().measure("x" + "\u0301" * 1000) == 101  # no precomposed x́
    assert GraphemePolicy().measure("葛\U000e0100") == 1
