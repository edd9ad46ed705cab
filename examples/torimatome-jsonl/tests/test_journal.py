"""The journal: what committed survives a reopen, what did not never appears."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from torimatome_jsonl import JsonlStorage

import torimatome
from torimatome import LineStatus, NewLine, NewUser, StorageError
from torimatome.testing import (
    add_office,
    make_account,
    make_mail,
    make_message,
    make_record,
    make_request,
)


def _everything(storage: JsonlStorage) -> object:
    with storage.unit_of_work(write=False) as uow:
        users = uow.users.in_account("acc-1")
        return (
            [uow.accounts.get(i) for i in uow.accounts.all_ids()],
            users,
            [uow.users.password_hash(u.id) for u in users],
            uow.requests.get("r-1"),
            uow.messages.for_request("r-1"),
            uow.outbox.all(),
            uow.idempotency.get("acc-1-alice", "key-1"),
        )


def test_every_kind_of_committed_value_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "office.jsonl"
    storage = JsonlStorage(path)
    with storage.unit_of_work() as uow:
        add_office(uow)
        request = make_request(
            requester_id="acc-1-alice",
            message="至急",
            statuses=(LineStatus.REQUESTED, LineStatus.CONSOLIDATED, LineStatus.DELETED),
        )
        uow.requests.add(request)
        uow.messages.add(make_message(author_id="acc-1-alice"))
        uow.outbox.add(make_mail(request_id="r-1"))
        uow.idempotency.add(make_record("acc-1-alice"))
    with storage.unit_of_work() as uow:
        uow.users.set_password_hash("acc-1-bob", "another-hash")
        uow.idempotency.delete("acc-1-alice", "key-1")
    before = _everything(storage)
    storage.close()
    again = JsonlStorage(path)
    assert _everything(again) == before
    again.close()


def test_a_unit_that_raised_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "office.jsonl"
    storage = JsonlStorage(path)

    def fail_midway() -> None:
        with storage.unit_of_work() as uow:
            uow.accounts.add(make_account())
            raise RuntimeError("the caller failed")

    with pytest.raises(RuntimeError):
        fail_midway()
    storage.close()
    assert path.read_bytes() == b""


def test_a_torn_last_line_is_cut_off_at_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "office.jsonl"
    storage = JsonlStorage(path)
    with storage.unit_of_work() as uow:
        uow.accounts.add(make_account())
    storage.close()
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"changes":[["accounts","acc-2"')  # the process died here
    again = JsonlStorage(path)
    with again.unit_of_work(write=False) as uow:
        assert uow.accounts.all_ids() == ["acc-1"]
    again.close()
    assert path.read_bytes() == whole


def test_a_second_process_cannot_open_the_same_journal(tmp_path: Path) -> None:
    path = tmp_path / "office.jsonl"
    first = JsonlStorage(path)
    with pytest.raises(StorageError, match="already open"):
        JsonlStorage(path)
    first.close()
    JsonlStorage(path).close()  # free again once closed


def test_the_app_finds_the_backend_by_its_scheme_and_keeps_the_office(tmp_path: Path) -> None:
    url = f"jsonl:///{tmp_path / 'office.jsonl'}"
    with torimatome.open(url) as app:
        (info,) = [p for p in app.plugins() if p.name == "jsonl"]
        assert (info.name, info.distribution, info.version) == (
            "jsonl",
            "torimatome-jsonl",
            "0.1.0",
        )
        reg = app.create_account("商事", coordinator=NewUser(login_id="boss", nickname="山田"))
        sato = app.register_internal_user(reg.user.id, NewUser(login_id="sato", nickname="佐藤"))
        request = app.submit_request(
            sato.user.id, [NewLine(sku="A-1", name="ペン", quantity=2, unit_price=Decimal(100))]
        )
    with torimatome.open(url) as app:
        assert app.pending_count(reg.user.id) == 1
        assert app.get_request(sato.user.id, request.id).lines[0].quantity == 2


def test_a_damaged_journal_is_a_storage_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "office.jsonl"
    for damage in (b"\xff\xfe\n", b'{"changes": [["nope", "k", null, false]]}\n', b"[1\n"):
        path.write_bytes(damage)
        with pytest.raises(StorageError):
            JsonlStorage(path)


def test_the_scheme_is_matched_in_any_case(tmp_path: Path) -> None:
    storage = JsonlStorage.from_url(f"JSONL:///{tmp_path / 'office.jsonl'}")
    storage.close()
    with pytest.raises(torimatome.ConfigurationError):
        JsonlStorage.from_url("jsonl://")
