"""The error hierarchy: stable codes, both languages, and the fitting built-in bases."""

from __future__ import annotations

import inspect

import pytest

from torimatome.domain import errors
from torimatome.domain.errors import (
    ACCESS_DENIED_JA,
    AccessDenied,
    AuthenticationFailed,
    CartError,
    CartRefused,
    ConfigurationError,
    Conflict,
    InvalidInput,
    InvalidTransition,
    MailError,
    NotFound,
    StorageError,
    TorimatomeError,
)

#: The codes shops map to screens: changing one breaks them, so they are listed literally.
STABLE_CODES = {
    TorimatomeError: "error",
    AccessDenied: "access_denied",
    AuthenticationFailed: "authentication_failed",
    NotFound: "not_found",
    InvalidInput: "invalid_input",
    InvalidTransition: "invalid_transition",
    Conflict: "conflict",
    StorageError: "storage_error",
    CartError: "cart_error",
    CartRefused: "cart_refused",
    MailError: "mail_error",
    ConfigurationError: "configuration_error",
}

#: One typical instance of each error, as torimatome raises it.
EXAMPLES: list[TorimatomeError] = [
    TorimatomeError(),
    AccessDenied("consolidation"),
    AuthenticationFailed(),
    NotFound("request", "R1"),
    InvalidInput("quantity must be from 1 to 9999.", field="quantity"),
    InvalidTransition("L1", "deleted", "hold"),
    Conflict(lines={"L1": "version 2, expected 1"}),
    StorageError(),
    CartError(),
    CartRefused({"L1": "discontinued"}),
    MailError(),
    ConfigurationError(),
]


def _error_classes() -> list[type[TorimatomeError]]:
    return [
        obj
        for name in errors.__all__
        if inspect.isclass(obj := getattr(errors, name)) and issubclass(obj, BaseException)
    ]


def test_every_exported_error_class_has_a_stable_code() -> None:
    classes = _error_classes()
    assert set(classes) == set(STABLE_CODES)
    for cls in classes:
        assert cls.code == STABLE_CODES[cls], cls
        assert issubclass(cls, TorimatomeError)


def test_error_codes_are_distinct() -> None:
    codes = [cls.code for cls in _error_classes()]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("cls", list(STABLE_CODES), ids=lambda c: c.__name__)
def test_every_error_class_has_a_japanese_and_an_english_default_text(
    cls: type[TorimatomeError],
) -> None:
    assert cls.default_en.strip()
    assert cls.default_ja.strip()
    assert not cls.default_ja.isascii()


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_raised_error_carries_both_texts(error: TorimatomeError) -> None:
    assert str(error).strip()
    assert error.ja.strip()
    assert error.message("en") == str(error)
    assert error.message("ja") == error.ja


@pytest.mark.parametrize(
    "error",
    [e for e in EXAMPLES if not isinstance(e, InvalidInput)],
    ids=lambda e: type(e).__name__,
)
def test_errors_other_than_invalid_input_speak_japanese_in_ja(error: TorimatomeError) -> None:
    assert not error.ja.isascii()


def test_errors_subclass_the_fitting_built_in() -> None:
    assert isinstance(AccessDenied(), PermissionError)
    assert isinstance(NotFound("line", "L1"), LookupError)
    assert isinstance(InvalidInput("bad"), ValueError)
    assert issubclass(CartRefused, CartError)
    for cls in STABLE_CODES:
        assert issubclass(cls, Exception)


def test_access_denied_speaks_the_seed_sentence() -> None:
    error = AccessDenied("purchase")
    assert error.ja == ACCESS_DENIED_JA == "お客様はこちらの画面を見ることができません"
    assert AccessDenied().ja == ACCESS_DENIED_JA
    assert error.feature == "purchase"
    assert "purchase" in str(error)


def test_cart_refused_carries_each_refused_line_and_why() -> None:
    error = CartRefused({"L1": "discontinued", "L2": "over the limit"})
    assert error.refused == {"L1": "discontinued", "L2": "over the limit"}
    assert error.details["refused"] == error.refused
    assert "L1" in str(error)
    assert "L2" in error.ja


def test_conflict_carries_the_lines_it_names() -> None:
    error = Conflict(lines={"L2": "already deleted", "L1": "version 3, expected 2"})
    assert error.lines == {"L1": "version 3, expected 2", "L2": "already deleted"}
    assert "L1" in str(error)
    assert "L2" in str(error)
    assert Conflict().lines == {}
    assert Conflict("The key was reused.").lines == {}


def test_not_found_names_the_kind_and_the_id() -> None:
    error = NotFound("request", "R9")
    assert (error.kind, error.ident) == ("request", "R9")
    assert "注文依頼" in error.ja


def test_invalid_input_names_its_field() -> None:
    error = InvalidInput("bad quantity", field="quantity")
    assert error.field == "quantity"
    assert error.details["field"] == "quantity"


def test_invalid_transition_names_line_state_and_act() -> None:
    error = InvalidTransition("L1", "deleted", "hold")
    assert (error.line_id, error.status, error.act) == ("L1", "deleted", "hold")
