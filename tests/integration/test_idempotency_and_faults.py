"""Idempotency keys, and faults in the cart and the storage: all or nothing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from torimatome import (
    CartError,
    CartRef,
    CartRefused,
    Choice,
    Conflict,
    GraphemePolicy,
    InvalidInput,
    MemoryCart,
    StorageError,
    hookimpl,
)

from .office import Office, make_office, snapshot


def test_the_same_key_and_payload_returns_the_first_request(office: Office) -> None:
    lines = office.lines(("A", 2))
    first = office.app.submit_request(office.sato.id, lines, "伝言", idempotency_key="k-1")
    office.clock.advance(minutes=5)
    before = snapshot(office)
    again = office.app.submit_request(office.sato.id, lines, "伝言", idempotency_key="k-1")
    assert again == first
    assert snapshot(office) == before


def test_the_same_key_with_another_payload_is_a_conflict(office: Office) -> None:
    office.app.submit_request(office.sato.id, office.lines(("A", 2)), idempotency_key="k-1")
    before = snapshot(office)
    with pytest.raises(Conflict):
        office.app.submit_request(office.sato.id, office.lines(("A", 3)), idempotency_key="k-1")
    assert snapshot(office) == before


def test_keys_are_scoped_to_the_actor(office: Office) -> None:
    a = office.app.submit_request(office.sato.id, office.lines(("A", 1)), idempotency_key="same")
    b = office.app.submit_request(office.suzuki.id, office.lines(("A", 1)), idempotency_key="same")
    assert a.id != b.id
    assert office.app.pending_count(office.boss.id) == 2


def test_a_repeated_decide_returns_the_first_decision_and_changes_nothing(office: Office) -> None:
    (line,) = office.request(office.sato).lines
    first = office.app.decide(office.boss.id, {line.id: Choice.CONSOLIDATE}, idempotency_key="d1")
    before = snapshot(office)
    again = office.app.decide(office.boss.id, {line.id: Choice.CONSOLIDATE}, idempotency_key="d1")
    assert again == first
    assert snapshot(office) == before
    with pytest.raises(Conflict):
        office.app.decide(office.boss.id, {line.id: Choice.HOLD}, idempotency_key="d1")


def test_a_refused_line_refuses_the_whole_batch_naming_each_line(storage_url: str) -> None:
    cart = MemoryCart(refuse={"GONE": "販売終了"}, max_quantity=10)
    office = make_office(storage_url, cart=cart)
    ok, gone, many = office.request(office.sato, ("OK", 1), ("GONE", 1), ("MANY", 11)).lines
    before = snapshot(office)
    with pytest.raises(CartRefused) as caught:
        office.app.decide(office.boss.id, {ok.id: "consolidate", gone.id: "consolidate",
                                           many.id: "consolidate"})  # fmt: skip
    assert caught.value.refused == {gone.id: "販売終了", many.id: "quantity over the limit of 10"}
    assert snapshot(office) == before


class ExplodingCart:
    @hookimpl
    def torimatome_add_to_cart(self) -> None:
        raise OSError("cart service down")


def test_a_failing_cart_is_a_cart_error_with_its_cause_and_nothing_changes(
    storage_url: str,
) -> None:
    office = make_office(storage_url, plugins=(ExplodingCart(),))
    office.app.pm.unregister(office.cart)
    (line,) = office.request(office.sato).lines
    before = snapshot(office)
    with pytest.raises(CartError) as caught:
        office.app.decide(
            office.boss.id,
            {
                line.id: Choice.CONSOLIDATE,
            },
        )
    assert isinstance(caught.value.__cause__, OSError)
    assert snapshot(office) == before


def test_a_cart_that_answers_wrongly_is_refused(storage_url: str) -> None:
    class Sloppy:
        @hookimpl
        def torimatome_add_to_cart(self, entries: Sequence[object]) -> list[CartRef]:
            return [CartRef("someone-else", "ref-1")]

    office = make_office(storage_url, plugins=(Sloppy(),))
    (line,) = office.request(office.sato).lines
    with pytest.raises(CartError):
        office.app.decide(office.boss.id, {line.id: Choice.CONSOLIDATE})
    assert office.app.pending_count(office.boss.id) == 1


def test_the_cart_is_compensated_when_storage_fails_after_it_accepted(office: Office) -> None:
    a, b = office.request(office.sato, ("A", 1), ("B", 1)).lines
    storage = office.app.storage
    original = storage.unit_of_work

    def failing_unit_of_work(*, write: bool = True):  # type: ignore[no-untyped-def]
        cm = original(write=write)

        class Wrapper:
            def __enter__(self):  # type: ignore[no-untyped-def]
                uow = cm.__enter__()
                real = uow.requests.update_lines

                def boom(lines):  # type: ignore[no-untyped-def]
                    real(lines)
                    raise StorageError("disk full")

                uow.requests.update_lines = boom
                return uow

            def __exit__(self, *exc):  # type: ignore[no-untyped-def]
                return cm.__exit__(*exc)

        return Wrapper()

    storage.unit_of_work = failing_unit_of_work  # type: ignore[method-assign]
    try:
        with pytest.raises(StorageError):
            office.app.decide(office.boss.id, {a.id: Choice.CONSOLIDATE, b.id: Choice.HOLD})
    finally:
        storage.unit_of_work = original  # type: ignore[method-assign]
    assert office.cart.line_ids() == set()
    assert office.app.pending_count(office.boss.id) == 2


def test_an_account_may_replace_the_thread_policy_and_the_cart_message_policy(
    office: Office,
) -> None:
    app = office.app
    app.update_account_settings(office.boss.id, message_policy=GraphemePolicy(limit=5))
    request = office.request(office.sato, message="あ" * 50)  # the cart message keeps 全角50
    with pytest.raises(InvalidInput):
        office.request(office.sato, message="あ" * 51)
    app.post_message(office.sato.id, request.id, "あいうえお")
    with pytest.raises(InvalidInput) as caught:
        app.post_message(office.sato.id, request.id, "あいうえおか")
    assert "6/5" in caught.value.ja
    app.update_account_settings(office.boss.id, cart_message_policy=GraphemePolicy(limit=3))
    with pytest.raises(InvalidInput):
        office.request(office.sato, message="あいうえ")
    settings = app.account(office.boss.id).settings
    assert settings.message_policy == GraphemePolicy(limit=5)
    assert settings.cart_message_policy == GraphemePolicy(limit=3)


def test_thread_posts_may_hold_line_breaks_but_not_controls(office: Office) -> None:
    request = office.request(office.sato)
    posted = office.app.post_message(office.sato.id, request.id, "一行目\r\n二行目")
    assert posted.body == "一行目\r\n二行目"
    with pytest.raises(InvalidInput):
        office.app.post_message(office.sato.id, request.id, "tab\there")


def test_messages_are_stored_nfc_normalised(office: Office) -> None:
    request = office.request(office.sato, message="か\u3099")
    assert request.message == "が"
    posted = office.app.post_message(office.sato.id, request.id, "㈱①")
    assert posted.body == "㈱①"
