"""Grapheme splitting, display width and forbidden characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torimatome.domain.text import (
    ForbiddenCharacter,
    cluster_width,
    find_forbidden_character,
    forbidden_character,
    graphemes,
    normalize,
    width,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧
KATSURA_IVS = "葛\U000e0100"  # 葛󠄀
JAPAN_FLAG = "\U0001f1ef\U0001f1f5"  # 🇯🇵
THUMBS_UP_MEDIUM = "\U0001f44d\U0001f3fd"  # 👍🏽
RED_HEART = "\u2764\ufe0f"  # ❤️
ENGLAND_FLAG = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
KEYCAP_ONE = "1\ufe0f\u20e3"

# Code points that glue clusters together, mixed into generated text so properties exercise them.
JOINERS = [
    "\u200d",
    "\u200c",
    "\ufe0f",
    "\ufe0e",
    "\U000e0100",
    "\U0001f3fb",
    "\U000e0067",
    "\U000e007f",
    "\u20e3",
    "\U0001f1ef",
    "\U0001f1f5",
    "\u0301",
    "\u3099",
    "\uff9e",
    "\r",
    "\n",
    "\u1100",
    "\u1161",
    "\u11a8",
    "\uac00",
    "\ud800",
    "\udfff",
]
any_text = st.text(
    st.one_of(st.characters(exclude_categories=()), st.sampled_from(JOINERS)),
)


def utf16_units(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def test_fifty_full_width_characters_measure_one_hundred() -> None:
    assert width("あ" * 50) == 100
    assert width("あ" * 51) == 102


def test_ascii_letters_measure_one_each() -> None:
    assert width("a" * 100) == 100
    assert width("a" * 101) == 101


def test_a_zwj_family_is_one_grapheme_costing_two() -> None:
    assert graphemes(FAMILY) == [FAMILY]
    assert width(FAMILY) == 2


def test_an_ideographic_variation_sequence_is_one_grapheme_costing_two() -> None:
    assert graphemes(KATSURA_IVS) == [KATSURA_IVS]
    assert width(KATSURA_IVS) == 2


def test_half_width_katakana_with_dakuten_is_two_graphemes_costing_two() -> None:
    assert graphemes("ｶﾞ") == ["ｶ", "ﾞ"]
    assert width("ｶﾞ") == 2
    assert graphemes("ﾊﾟ") == ["ﾊ", "ﾟ"]


@pytest.mark.parametrize("char", ["①", "㈱"])
def test_enclosed_characters_survive_normalisation_and_cost_two(char: str) -> None:
    assert normalize(char) == char
    assert width(normalize(char)) == 2


def test_decomposed_ga_normalises_to_one_code_point() -> None:
    decomposed = "か\u3099"
    assert len(decomposed) == 2
    assert normalize(decomposed) == "が"
    assert len(normalize(decomposed)) == 1


def test_a_decomposed_ga_is_one_grapheme_even_before_normalisation() -> None:
    assert graphemes("か\u3099") == ["か\u3099"]
    assert width("か\u3099") == 2


def test_a_regional_indicator_flag_is_one_grapheme_costing_two() -> None:
    assert graphemes(JAPAN_FLAG) == [JAPAN_FLAG]
    assert width(JAPAN_FLAG) == 2


def test_regional_indicators_pair_two_by_two() -> None:
    us = "\U0001f1fa\U0001f1f8"
    assert graphemes(JAPAN_FLAG + us) == [JAPAN_FLAG, us]
    assert graphemes(JAPAN_FLAG + "\U0001f1fa") == [JAPAN_FLAG, "\U0001f1fa"]


def test_a_skin_tone_emoji_is_one_grapheme_costing_two() -> None:
    assert graphemes(THUMBS_UP_MEDIUM) == [THUMBS_UP_MEDIUM]
    assert width(THUMBS_UP_MEDIUM) == 2


def test_a_heart_with_emoji_presentation_costs_two() -> None:
    assert graphemes(RED_HEART) == [RED_HEART]
    assert width(RED_HEART) == 2


def test_e_with_combining_acute_is_one_grapheme_costing_one() -> None:
    assert graphemes("e\u0301") == ["e\u0301"]
    assert width("e\u0301") == 1


def test_a_tag_sequence_flag_is_one_grapheme_costing_two() -> None:
    assert graphemes(ENGLAND_FLAG) == [ENGLAND_FLAG]
    assert width(ENGLAND_FLAG) == 2


def test_a_keycap_sequence_is_one_grapheme_costing_two() -> None:
    assert graphemes(KEYCAP_ONE) == [KEYCAP_ONE]
    assert width(KEYCAP_ONE) == 2


def test_crlf_is_one_cluster_costing_one() -> None:
    assert graphemes("a\r\nb") == ["a", "\r\n", "b"]
    assert cluster_width("\r\n") == 1
    assert cluster_width("\n") == 1
    assert width("a\r\nb") == 3


def test_combining_marks_do_not_attach_to_a_line_break() -> None:
    assert graphemes("\n\u0301") == ["\n", "\u0301"]


def test_conjoining_hangul_jamo_form_one_cluster() -> None:
    assert graphemes("\u1100\u1161\u11a8") == ["\u1100\u1161\u11a8"]
    assert width("\u1100\u1161\u11a8") == 2


def test_half_width_katakana_costs_one_and_full_width_space_costs_two() -> None:
    assert width("ｱｲｳ") == 3
    assert width("\u3000") == 2


def test_an_empty_cluster_costs_nothing() -> None:
    assert cluster_width("") == 0
    assert graphemes("") == []
    assert width("") == 0


@given(any_text)
def test_width_never_exceeds_two_per_utf16_unit(s: str) -> None:
    assert width(s) <= 2 * utf16_units(s)


@given(any_text)
def test_joining_the_graphemes_gives_back_the_text(s: str) -> None:
    assert "".join(graphemes(s)) == s


@given(any_text)
def test_splitting_never_produces_an_empty_cluster(s: str) -> None:
    assert all(graphemes(s))


@given(any_text)
def test_every_cluster_costs_one_or_two(s: str) -> None:
    assert all(cluster_width(c) in (1, 2) for c in graphemes(s))


@given(any_text)
def test_normalisation_is_idempotent(s: str) -> None:
    assert normalize(normalize(s)) == normalize(s)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc\u0007", "control character U+0007 at position 3"),
        ("a\tb", "control character U+0009 at position 1"),
        ("\x00", "control character U+0000 at position 0"),
        ("x\x7f", "delete character U+007F at position 1"),
        ("\x85", "C1 control character U+0085 at position 0"),
        ("abc\u202edef", "bidirectional control character U+202E at position 3"),
        ("\u2066", "bidirectional control character U+2066 at position 0"),
        ("a\u2028", "line separator U+2028 at position 1"),
        ("a\u2029", "paragraph separator U+2029 at position 1"),
        ("ok\ud800", "lone surrogate U+D800 at position 2"),
        ("\udc00", "lone surrogate U+DC00 at position 0"),
    ],
)
def test_forbidden_characters_are_named_with_their_position(text: str, expected: str) -> None:
    assert forbidden_character(text, allow_line_breaks=False) == expected
    assert forbidden_character(text, allow_line_breaks=True) == expected


def test_line_breaks_are_forbidden_unless_allowed() -> None:
    assert forbidden_character("a\nb", allow_line_breaks=False) == "line break U+000A at position 1"
    assert forbidden_character("a\r\nb", allow_line_breaks=False) == (
        "line break U+000D at position 1"
    )
    assert forbidden_character("a\nb", allow_line_breaks=True) is None
    assert forbidden_character("a\r\nb", allow_line_breaks=True) is None


def test_a_lone_carriage_return_is_forbidden_even_when_line_breaks_are_allowed() -> None:
    assert forbidden_character("a\rb", allow_line_breaks=True) == (
        "lone carriage return U+000D at position 1"
    )
    assert forbidden_character("a\r", allow_line_breaks=True) is not None


def test_ordinary_japanese_and_emoji_text_is_allowed() -> None:
    text = f"お世話になります。①㈱ｶﾞ{FAMILY}{KATSURA_IVS}{ENGLAND_FLAG}\u200d"
    assert forbidden_character(text, allow_line_breaks=False) is None


def test_the_structured_finding_carries_position_and_code_point() -> None:
    found = find_forbidden_character("ab\u202e", allow_line_breaks=False)
    assert found == ForbiddenCharacter(
        position=2, char="\u202e", reason="bidirectional control character"
    )
    assert found.code_point == "U+202E"


def test_ambiguous_characters_can_be_measured_as_a_terminal_draws_them() -> None:
    assert width("×○▼") == 6
    assert width("×○▼", ambiguous_wide=False) == 3
    assert width("あ×", ambiguous_wide=False) == 3
    assert width("👍🏽", ambiguous_wide=False) == 2


def test_a_zwj_between_non_emoji_does_not_join_them() -> None:
    assert graphemes("あ\u200dい") == ["あ\u200d", "い"]
    assert width("\u200d".join(["あ"] * 51)) > 100


def test_a_zwj_between_emoji_still_joins_them() -> None:
    family = "👨\u200d👩\u200d👧"
    assert graphemes(family) == [family]
    assert width(family) == 2


def test_an_overlong_cluster_costs_a_cell_per_started_block_of_ten() -> None:
    assert width("e" + "\u0301" * 9) == 1
    assert width("e" + "\u0301" * 10) == 4  # 11 code points: two blocks
    assert width("a" + "\u0301" * 1000) == 2 * 101


@pytest.mark.parametrize(
    "char", ["\u200b", "\u200e", "\u200f", "\u061c", "\ufeff", "\u2060", "\u00ad", "\ufffe",
             "\U0010ffff", "\ufdd0", "\U000e0001"],
)  # fmt: skip
def test_invisible_and_noncharacters_are_forbidden(char: str) -> None:
    assert forbidden_character(f"a{char}b", allow_line_breaks=True) is not None


@pytest.mark.parametrize(
    "text", ["👨\u200d👩\u200d👧", "क्\u200dष", "🏴\U000e0067\U000e0062\U000e007f"]
)
def test_zwj_zwnj_and_emoji_tags_stay_allowed(text: str) -> None:
    assert forbidden_character(text, allow_line_breaks=False) is None


def test_no_printable_code_point_is_refused_so_printable_text_may_skip_the_scan() -> None:
    # find_forbidden_character returns early for str.isprintable() text: that shortcut is
    # only right while every refused code point is also unprintable.
    from torimatome.domain.text import _describe_forbidden

    refused = [
        hex(cp)
        for cp in range(0x110000)
        if chr(cp).isprintable()
        and any(_describe_forbidden(chr(cp), 0, breaks) for breaks in (False, True))
    ]
    assert refused == []
