"""Text measurement for Japanese shop screens: normalisation, grapheme clusters and display width.

Everything here is pure. Character data comes from the standard library's ``unicodedata``, so
results follow the Unicode version of the running Python. Grapheme splitting is a pragmatic
subset of UAX #29 covering what shop users type: combining marks, variation selectors (including
the Ideographic Variation Sequences of 人名 such as 葛󠄀), emoji ZWJ sequences, skin tones,
keycaps, tag flags, regional-indicator flags, CR LF and conjoining Hangul jamo.
"""

from __future__ import annotations

import functools
import unicodedata
from enum import Enum, auto

import attrs

__all__ = [
    "ForbiddenCharacter",
    "cluster_width",
    "find_forbidden_character",
    "forbidden_character",
    "grapheme_count",
    "graphemes",
    "normalize",
    "width",
]

_ZWJ = "\u200d"
_ZWNJ = "\u200c"
_KEYCAP = "\u20e3"
_VS16 = "\ufe0f"
# Half-width katakana voicing marks look like combining marks but occupy their own cell on screen.
_HALF_WIDTH_VOICING = frozenset({"\uff9e", "\uff9f"})
_WIDE_EAST_ASIAN = frozenset({"F", "W", "A"})
_LINE_BREAK_CLUSTERS = frozenset({"\n", "\r\n", "\r"})


class _Kind(Enum):
    CR = auto()
    LF = auto()
    CONTROL = auto()
    EXTEND = auto()
    ZWJ = auto()
    REGIONAL_INDICATOR = auto()
    L = auto()
    V = auto()
    T = auto()
    LV = auto()
    LVT = auto()
    OTHER = auto()


_BREAKERS = frozenset({_Kind.CR, _Kind.LF, _Kind.CONTROL})


def normalize(text: str) -> str:
    """Return ``text`` in NFC.

    NFKC is deliberately avoided: it would rewrite characters customers mean literally, such as
    ① into 1 and ㈱ into (株).
    """
    return unicodedata.normalize("NFC", text)


def _is_tag(cp: int) -> bool:
    return 0xE0020 <= cp <= 0xE007F


def _is_skin_tone(cp: int) -> bool:
    return 0x1F3FB <= cp <= 0x1F3FF


def _is_regional_indicator(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


# Code points that start or continue an emoji ZWJ sequence: an approximation of Unicode's
# Extended_Pictographic, which unicodedata does not expose.
_PICTOGRAPHIC_RANGES = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049),
    (0x2122, 0x2122), (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA),
    (0x231A, 0x231B), (0x2328, 0x2328), (0x23CF, 0x23CF), (0x23E9, 0x23F3),
    (0x23F8, 0x23FA), (0x24C2, 0x24C2), (0x25AA, 0x25AB), (0x25B6, 0x25B6),
    (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x2600, 0x27BF), (0x2934, 0x2935),
    (0x2B05, 0x2B07), (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55),
    (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299),
    (0x1F000, 0x1F1E5), (0x1F200, 0x1F3FA), (0x1F400, 0x1FAFF),
)  # fmt: skip

#: A cluster longer than this many code points costs one more cell per started block, so a
#: pile of combining marks cannot hide a long text inside one "character".
MAX_CLUSTER_CODE_POINTS = 10


# The per-code-point classifications below are pure functions of one code point; messages
# repeat their characters, so they are remembered (a bounded cache: kana and common kanji).
@functools.lru_cache(maxsize=8192)
def _is_pictographic(cp: int) -> bool:
    return any(low <= cp <= high for low, high in _PICTOGRAPHIC_RANGES)


def _is_extend(ch: str, cp: int) -> bool:
    if ch in _HALF_WIDTH_VOICING:
        return False
    return (
        unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
        or _is_skin_tone(cp)
        or _is_tag(cp)
        or ch in (_KEYCAP, _ZWNJ)
    )


def _hangul_kind(cp: int) -> _Kind | None:
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97F:
        return _Kind.L
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return _Kind.V
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return _Kind.T
    if 0xAC00 <= cp <= 0xD7A3:
        # Every 28th precomposed syllable has no final consonant (LV); the rest are LVT.
        return _Kind.LV if (cp - 0xAC00) % 28 == 0 else _Kind.LVT
    return None


@functools.lru_cache(maxsize=8192)
def _kind(ch: str) -> _Kind:
    cp = ord(ch)
    if ch == "\r":
        return _Kind.CR
    if ch == "\n":
        return _Kind.LF
    if ch == _ZWJ:
        return _Kind.ZWJ
    if _is_extend(ch, cp):
        return _Kind.EXTEND
    if _is_regional_indicator(cp):
        return _Kind.REGIONAL_INDICATOR
    hangul = _hangul_kind(cp)
    if hangul is not None:
        return hangul
    if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
        return _Kind.CONTROL
    return _Kind.OTHER


def _joins(previous: _Kind, current: _Kind, odd_regional_indicators: bool) -> bool:
    if previous is _Kind.CR and current is _Kind.LF:
        return True
    if previous in _BREAKERS or current in _BREAKERS:
        return False
    if previous is _Kind.L and current in (_Kind.L, _Kind.V, _Kind.LV, _Kind.LVT):
        return True
    if previous in (_Kind.LV, _Kind.V) and current in (_Kind.V, _Kind.T):
        return True
    if previous in (_Kind.LVT, _Kind.T) and current is _Kind.T:
        return True
    if current in (_Kind.EXTEND, _Kind.ZWJ) or previous is _Kind.ZWJ:
        return True
    return (
        previous is _Kind.REGIONAL_INDICATOR
        and current is _Kind.REGIONAL_INDICATOR
        and odd_regional_indicators
    )


def graphemes(text: str) -> list[str]:
    """Split ``text`` into user-perceived characters; ``"".join(graphemes(t)) == t`` always.

    A cluster is a base followed by combining marks, variation selectors, skin-tone modifiers,
    tag characters or a keycap; a ZWJ also pulls in the code point after it; regional indicators
    pair two by two into flags; CR LF stays together. Controls (including lone surrogates and
    format characters other than ZWJ/ZWNJ) always stand alone.
    """
    clusters: list[str] = []
    start = 0
    previous: _Kind | None = None
    regional_run = 0
    pictographic = False  # does the current cluster start with an emoji?
    for index, ch in enumerate(text):
        kind = _kind(ch)
        joins = previous is not None and _joins(previous, kind, regional_run % 2 == 1)
        if joins and previous is _Kind.ZWJ and not (pictographic and _is_pictographic(ord(ch))):
            # UAX #29 GB11: a ZWJ joins emoji to emoji, not any two characters.
            joins = False
        if previous is not None and not joins:
            clusters.append(text[start:index])
            start = index
        if start == index:
            pictographic = _is_pictographic(ord(ch))
        regional_run = regional_run + 1 if kind is _Kind.REGIONAL_INDICATOR else 0
        previous = kind
    if start < len(text):
        clusters.append(text[start:])
    return clusters


def _is_emoji_sequence(cluster: str) -> bool:
    if _ZWJ in cluster or _VS16 in cluster or _KEYCAP in cluster:
        return True
    if any(_is_skin_tone(ord(ch)) or _is_tag(ord(ch)) for ch in cluster):
        return True
    return len(cluster) == 2 and all(_is_regional_indicator(ord(ch)) for ch in cluster)


def cluster_width(cluster: str, *, ambiguous_wide: bool = True) -> int:
    """Display width of one grapheme cluster: 2 for full-width, 1 otherwise, 0 for ``""``.

    East Asian Ambiguous characters (①, ○, ×, Greek, Cyrillic...) count as full-width by
    default because Japanese fonts draw them that way (and a message limit must not
    under-count); ``ambiguous_wide=False`` counts them as a typical terminal draws them. Emoji
    sequences count 2 even when their base alone would be narrow (❤️ is U+2764 U+FE0F). A line
    break, CR LF included, counts 1.
    """
    if not cluster:
        return 0
    if cluster in _LINE_BREAK_CLUSTERS:
        return 1
    if len(cluster) > MAX_CLUSTER_CODE_POINTS:
        return 2 * -(-len(cluster) // MAX_CLUSTER_CODE_POINTS)
    if _is_emoji_sequence(cluster):
        return 2
    wide = _WIDE_EAST_ASIAN if ambiguous_wide else _WIDE_EAST_ASIAN - {"A"}
    return 2 if unicodedata.east_asian_width(cluster[0]) in wide else 1


def grapheme_count(text: str) -> int:
    """User-perceived characters in ``text``; an overlong cluster counts once per started
    block of :data:`MAX_CLUSTER_CODE_POINTS` code points."""
    return sum(-(-len(c) // MAX_CLUSTER_CODE_POINTS) for c in graphemes(text))


def width(text: str, *, ambiguous_wide: bool = True) -> int:
    """Display width of ``text`` as given (normalise first with :func:`normalize`)."""
    return sum(cluster_width(c, ambiguous_wide=ambiguous_wide) for c in graphemes(text))


def _describe_forbidden(text: str, index: int, allow_line_breaks: bool) -> str | None:
    ch = text[index]
    cp = ord(ch)
    if 0xD800 <= cp <= 0xDFFF:
        return "lone surrogate"
    if ch == "\n":
        return None if allow_line_breaks else "line break"
    if ch == "\r":
        if not allow_line_breaks:
            return "line break"
        followed_by_lf = index + 1 < len(text) and text[index + 1] == "\n"
        return None if followed_by_lf else "lone carriage return"
    if cp <= 0x1F:
        return "control character"
    if cp == 0x7F:
        return "delete character"
    if 0x80 <= cp <= 0x9F:
        return "C1 control character"
    if 0x202A <= cp <= 0x202E or 0x2066 <= cp <= 0x2069:
        return "bidirectional control character"
    if cp == 0x2028:
        return "line separator"
    if cp == 0x2029:
        return "paragraph separator"
    if 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE:
        return "noncharacter"
    if unicodedata.category(ch) == "Cf" and ch not in (_ZWJ, _ZWNJ) and not _is_tag(cp):
        # Invisible format characters (bidi marks, BOM, soft hyphen, word joiner...) make a
        # text look different from what it holds; ZWJ, ZWNJ and tags are part of emoji and
        # scripts.
        return "invisible format character"
    return None


@attrs.frozen
class ForbiddenCharacter:
    """The first code point a text may not contain: where it is, which it is and why."""

    position: int
    char: str
    reason: str

    @property
    def code_point(self) -> str:
        """The code point as ``"U+XXXX"``."""
        return f"U+{ord(self.char):04X}"

    def __str__(self) -> str:
        return f"{self.reason} {self.code_point} at position {self.position}"


def find_forbidden_character(text: str, *, allow_line_breaks: bool) -> ForbiddenCharacter | None:
    """Like :func:`forbidden_character`, but structured so callers can word their own message."""
    if text.isprintable():
        # Every refused code point is a control, format, separator, surrogate or unassigned
        # one, which str.isprintable() refuses too: the common case needs no closer look.
        return None
    for index in range(len(text)):
        reason = _describe_forbidden(text, index, allow_line_breaks)
        if reason is not None:
            return ForbiddenCharacter(position=index, char=text[index], reason=reason)
    return None


def forbidden_character(text: str, *, allow_line_breaks: bool) -> str | None:
    """Describe the first code point ``text`` may not contain, or return ``None``.

    Refused: lone surrogates, C0 controls (tab included), DEL, C1 controls, bidi embeddings,
    overrides and isolates (they can make a message display differently from what it says),
    U+2028/U+2029, noncharacters and the other invisible format characters (bidi marks, BOM,
    soft hyphen, zero-width space...; ZWJ, ZWNJ and emoji tag characters stay allowed).
    With ``allow_line_breaks`` only ``"\\n"`` and ``"\\r\\n"`` pass; a lone
    ``"\\r"`` is still refused. The position is a code-point index into ``text``, as in
    ``"control character U+0007 at position 3"``.
    """
    found = find_forbidden_character(text, allow_line_breaks=allow_line_breaks)
    return None if found is None else str(found)
