"""The main job runs end to end and tells the whole story."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from torimatome.cli import main
from torimatome.demo import matrix_table, run


def test_the_demo_plays_every_step_of_the_office_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "demo.sqlite3"
    out = io.StringIO()
    assert run(str(db), "ja", out) == 0
    text = out.getvalue()
    for expected in (
        "サンプル商事株式会社",
        "初期パスワード",
        "メッセージは全角50文字（半角100文字）以内で入力してください（現在",
        "お客様はこちらの画面を見ることができません",
        "【依頼を見る】 6点",
        "▼ 佐藤さん",
        "保留:\n      - ふせん 75×75mm 5冊（鈴木）",
        "削除:\n      - クリアホルダー A4 10枚（鈴木）",
        "価格が変わっています: トナーカートリッジ 黒 ¥12,800 → ¥13,200",
        "佐藤+鈴木",
        "他の操作により内容が変更されています",
        "コピー用紙 A4 500枚（佐藤）: すでに「とりまとめ済」です",
        "4点が「注文済」になりました",
        "オーダーステイタス →「出荷済み」",
        "山田: 来週まとめて注文します。",
        "社内ユーザー「鈴木」で絞り込み: 1件",
        "送信 5通 / 失敗 0通 / 未送信 0通",
        "削除: 依頼 2 / 明細 4",
        "未完了の依頼 1件は残ります",
    ):
        assert expected in text, expected
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("SELECT count(*) FROM requests").fetchone() == (1,)


def test_the_demo_speaks_english_and_replaces_its_own_old_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.sqlite3"
    run(str(db), "ja", io.StringIO())
    out = io.StringIO()
    run(str(db), "en", out)
    assert "You cannot view this screen." in out.getvalue()
    assert "Purged: requests 2 / lines 4" in out.getvalue()


@pytest.mark.parametrize("kind", ["text file", "folder"])
def test_the_demo_never_replaces_what_is_not_its_database(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "notes.txt"
    if kind == "folder":
        target.mkdir()
    else:
        target.write_text("my notes", encoding="utf-8")
    assert main(["demo", "--db", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("torimatome: --db")
    assert ("folder" if kind == "folder" else "refusing") in err
    if kind == "text file":
        assert target.read_text(encoding="utf-8") == "my notes"


def test_the_matrix_command_prints_every_feature(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix"]) == 0
    printed = capsys.readouterr().out
    assert printed == matrix_table("ja") + "\n"
    assert printed.count("×") == 17 + 1  # the seed's 17 for internal users; request_order
    rows = printed.splitlines()[2:]
    assert len(rows) == 21


def test_the_console_command_runs_as_a_new_user_would(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [sys.executable, "-m", "torimatome", "demo", "--db", str(tmp_path / "d.sqlite3"),
         "--lang", "en"],
        capture_output=True, text=True, check=True, env=env, timeout=120,
    )  # fmt: skip
    assert "16 months later" in result.stdout
