"""The main job: a whole office plays the consolidated-ordering workflow, as a transcript.

``torimatome demo`` opens a fresh SQLite file, creates an office with a coordinator and three
internal users, and walks every screen of the seed: requests with messages and their mails, the
restricted screens, the pending list, a decide batch, the merged cart, a stale second tab,
checkout and order statuses, the message thread, history, status pages and, 16 months later, a
purge. Everything goes through the public API, exactly as a shop would call it.
"""

from __future__ import annotations

import datetime as dt
import sys
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import torimatome
from torimatome import (
    AccessDenied,
    AccountSettings,
    Choice,
    Config,
    ConfigurationError,
    Conflict,
    ConsoleMailTransport,
    Feature,
    InvalidInput,
    MemoryCart,
    NewLine,
    NewUser,
    OrderRequest,
    RequestLine,
    User,
    hookimpl,
)
from torimatome.domain.text import width as _width

__all__ = ["DemoClock", "matrix_table", "run"]

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")

CATALOG = {
    "A4-500": ("コピー用紙 A4 500枚", Decimal("498")),
    "PEN-BK": ("ゲルインクボールペン 黒 0.5mm", Decimal("110")),
    "FUSEN": ("ふせん 75×75mm 5冊", Decimal("385")),
    "CLEAR": ("クリアホルダー A4 10枚", Decimal("220")),
    "TONER": ("トナーカートリッジ 黒", Decimal("12800")),
    "TAPE": ("布粘着テープ 50mm", Decimal("248")),
}
# Today's prices in the shop: the toner went up since it was requested.
TODAY_PRICES = {"TONER": Decimal("13200")}
ORDER_ID = "W2604-000123"


def width(text: str) -> int:
    """Columns a terminal gives ``text``: ambiguous characters (×, ○, ▼) take one."""
    return _width(text, ambiguous_wide=False)


class DemoClock:
    """A clock the scenario moves forward, so the transcript reads like an office week."""

    def __init__(self, start: dt.datetime) -> None:
        self.current = start

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += dt.timedelta(**delta)


class ShopUrls:
    """The shop's screen URLs, as a shop's plugin provides them."""

    @hookimpl
    def torimatome_screen_url(self, screen: str, account_id: str, request_id: str | None) -> str:
        base = "https://shop.example.jp/mypage"
        if screen == "consolidation":
            return f"{base}/consolidation"
        return f"{base}/requests" + (f"/{request_id}" if request_id else "")


class _Say:
    """The transcript: bilingual lines, numbered sections and tables aligned by display width."""

    def __init__(self, out: TextIO, lang: str) -> None:
        self.out, self.lang = out, lang
        self.step = 0

    def t(self, ja: str, en: str) -> str:
        return ja if self.lang == "ja" else en

    def __call__(self, ja: str, en: str) -> None:
        print(self.t(ja, en), file=self.out)

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def section(self, ja: str, en: str) -> None:
        self.step += 1
        title = f"{self.step:>2}. {self.t(ja, en)}"
        print(f"\n{title}\n{'─' * min(78, width(title))}", file=self.out)

    def table(
        self, rows: list[list[str]], indent: str = "    ", right: tuple[int, ...] = ()
    ) -> None:
        """Print ``rows`` with columns aligned; the columns in ``right`` align right (numbers)."""
        for text in aligned(rows, right):
            print(indent + text, file=self.out)


def aligned(rows: list[list[str]], right: tuple[int, ...] = ()) -> list[str]:
    """``rows`` as text lines with aligned columns (by terminal width)."""
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            " " * (w - width(c)) + c if i in right else c + " " * (w - width(c))
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def yen(amount: Decimal) -> str:
    return f"¥{amount:,}"


def run(
    db: str = "torimatome-demo.sqlite3",
    lang: str = "ja",
    out: TextIO | None = None,
    *,
    url: str | None = None,
) -> int:
    """Play the scenario on a fresh database at ``db`` and print the transcript."""
    out = out or sys.stdout
    say = _Say(out, lang)
    if url is None:
        _clear_old_demo(Path(db))
        url = f"sqlite:///{db}"
    clock = DemoClock(dt.datetime(2026, 4, 6, 9, 0, tzinfo=TOKYO))
    cart = MemoryCart(prices=TODAY_PRICES)
    mail = ConsoleMailTransport(out)
    config = Config(mail_from="noreply@shop.example.jp", mail_from_name="オフィス用品ショップ")
    with torimatome.open(url, plugins=[cart, mail, ShopUrls()], clock=clock, config=config) as app:
        _Scenario(app, say, clock, cart).play()
    say.line()
    say(f"データベース: {url}", f"Database: {url}")
    return 0


def _clear_old_demo(path: Path) -> None:
    """Remove a previous demo database at ``path`` and nothing else: a file that is not an
    SQLite database (or not a regular file at all) is refused, never deleted."""
    if not str(path) or path.is_dir():
        raise ConfigurationError(f"--db must name a file, not a folder: {str(path)!r}.")
    if path.exists() or path.is_symlink():
        if path.is_symlink() or not path.is_file():
            raise ConfigurationError(
                f"--db {str(path)!r} is not a regular file; refusing to replace it."
            )
        with path.open("rb") as file:
            head = file.read(16)
        if head and head != b"SQLite format 3\x00":
            raise ConfigurationError(
                f"--db {str(path)!r} is not an SQLite database; refusing to replace it."
            )
    for suffix in ("", "-wal", "-shm", "-journal"):
        companion = Path(str(path) + suffix)
        if companion.is_file() and not companion.is_symlink():
            companion.unlink()


class _Scenario:
    """One office's week, step by step; each method is one section of the transcript."""

    def __init__(self, app: torimatome.App, say: _Say, clock: DemoClock, cart: MemoryCart) -> None:
        self.app, self.say, self.t, self.clock, self.cart = app, say, say.t, clock, cart
        self.requests: dict[str, OrderRequest] = {}
        self.names: dict[str, str] = {}

    def play(self) -> None:
        for step in (
            self.open_office,
            self.register_staff,
            self.file_requests,
            self.deliver_mail,
            self.refuse_long_message,
            self.refuse_restricted_screens,
            self.withdraw_a_line,
            self.show_pending_list,
            self.decide,
            self.show_cart,
            self.decide_from_a_stale_tab,
            self.check_out,
            self.exchange_messages,
            self.show_history,
            self.show_status_pages,
            self.purge_after_sixteen_months,
        ):
            step()

    def label(self, line: RequestLine) -> str:
        """A line as a person names it: the product and who asked for it."""
        return f"{line.name}（{self.names[line.requester_id]}）"

    def open_office(self) -> None:
        say, t = self.say, self.t
        say.section(
            "アカウントと、とりまとめ担当者を作成", "Create the account and its coordinator"
        )
        reg = self.app.create_account(
            "サンプル商事株式会社 総務部",
            coordinator=NewUser(
                login_id="yamada", email="soumu@sample-shoji.example", nickname="山田"
            ),
            timezone="Asia/Tokyo",
            settings=AccountSettings(locale=say.lang),
        )
        self.boss, self.account_id = reg.user, reg.account.id
        self.names[self.boss.id] = self.boss.nickname
        say(
            f"    {reg.account.name}（タイムゾーン {reg.account.timezone}）",
            f"    {reg.account.name} (timezone {reg.account.timezone})",
        )
        say.table(
            [
                [t("役割", "Role"), t("名前", "Name"), t("ログインID", "Login ID"),
                 t("初期パスワード", "Initial password"), "E-mail"],
                [t(self.boss.role.label_ja, self.boss.role.label_en), self.boss.nickname,
                 self.boss.login_id, reg.password, self.boss.email],
            ]
        )  # fmt: skip

    def register_staff(self) -> None:
        say, t, app = self.say, self.t, self.app
        say.section(
            "社内ユーザーを3人登録（初期パスワードは一度だけ表示）",
            "Register three internal users (initial passwords are shown once)",
        )
        rows = [[t("名前", "Name"), t("ログインID", "Login ID"),
                 t("初期パスワード", "Initial password"), "E-mail"]]  # fmt: skip
        people: dict[str, User] = {}
        passwords: dict[str, str] = {}
        for nickname, login, email in (
            ("佐藤", "sato", "sato@sample-shoji.example"),
            ("鈴木", None, "suzuki@sample-shoji.example"),
            ("高橋", "takahashi", "soumu@sample-shoji.example"),
        ):
            reg = app.register_internal_user(
                self.boss.id,
                NewUser(login_id=login, email=email, nickname=nickname, industry="卸売業"),
            )
            people[nickname], passwords[nickname] = reg.user, reg.password
            self.names[reg.user.id] = nickname
            shown = reg.user.login_id + (t("（自動生成）", " (generated)") if login is None else "")
            rows.append([nickname, shown, reg.password, email])
        say.table(rows)
        say(
            "    ※ 高橋さんは山田さんと同じ総務部の共有アドレスを使っています。",
            "    Note: 高橋 uses the department's shared address, like 山田.",
        )
        self.sato = app.authenticate("sato", passwords["佐藤"])
        self.suzuki, self.takahashi = people["鈴木"], people["高橋"]
        say(
            f"    {self.sato.nickname}さんがログインしました（{self.sato.login_id}）",
            f"    {self.sato.nickname} logged in ({self.sato.login_id})",
        )

    def lines(self, *items: tuple[str, int]) -> list[NewLine]:
        return [NewLine(sku=sku, name=CATALOG[sku][0], quantity=qty, unit_price=CATALOG[sku][1])
                for sku, qty in items]  # fmt: skip

    def file_requests(self) -> None:
        say, app = self.say, self.app
        say.section(
            "社内ユーザーがカゴから「注文を依頼する」",
            "Internal users send their carts as requests",
        )
        for who, items, message in (
            (self.sato, self.lines(("A4-500", 5), ("PEN-BK", 10)), "急ぎでお願いします。"),
            (self.suzuki, self.lines(("A4-500", 3), ("FUSEN", 4), ("CLEAR", 5)),
             "来週の会議で使います"),
            (self.takahashi, self.lines(("TONER", 1), ("TAPE", 6)), ""),
        ):  # fmt: skip
            self.clock.advance(minutes=17)
            request = app.submit_request(who.id, items, message, idempotency_key=f"cart-{who.id}")
            self.requests[who.nickname] = request
            total = sum((ln.amount for ln in request.lines), Decimal(0))
            note_ja = f"  伝言「{message}」" if message else ""
            note_en = f'  message "{message}"' if message else ""
            say(
                f"    {who.nickname}: {len(request.lines)}点 {yen(total)}{note_ja}",
                f"    {who.nickname}: {len(request.lines)} items {yen(total)}{note_en}",
            )
        again = app.submit_request(
            self.sato.id,
            self.lines(("A4-500", 5), ("PEN-BK", 10)),
            "急ぎでお願いします。",
            idempotency_key=f"cart-{self.sato.id}",
        )
        same = again.id == self.requests["佐藤"].id
        say(
            "    佐藤さんがボタンを二度押し → "
            + ("同じ依頼が返り、新しい依頼は作られません" if same else "二重に登録されました"),
            "    佐藤 clicks twice → "
            + ("the same request comes back; nothing new is filed" if same else "filed twice"),
        )

    def deliver_mail(self) -> None:
        say = self.say
        say.section(
            "ご注文依頼確認メール（アウトボックスから配信）", "Request mails (from the outbox)"
        )
        report = self.app.deliver_mail()
        say(
            f"    送信 {report.sent}通 / 失敗 {report.failed}通 / 未送信 {report.pending}通",
            f"    sent {report.sent} / failed {report.failed} / pending {report.pending}",
        )
        say(
            "    ※ 共有アドレスには1通だけ届きます（とりまとめ担当者向けの通知）。",
            "    Note: the shared address gets one mail per request (the coordinator's notice).",
        )

    def refuse_long_message(self) -> None:
        say = self.say
        say.section("長すぎる伝言メッセージは受け付けません", "An over-long message is refused")
        long_message = "会議室の備品が足りないので" + "、" * 44
        try:
            self.app.submit_request(self.suzuki.id, self.lines(("FUSEN", 1)), long_message)
        except InvalidInput as exc:
            say(f"    {exc.ja}", f"    {exc.en}")

    def refuse_restricted_screens(self) -> None:
        say = self.say
        say.section("社内ユーザーが使えない機能", "Screens internal users cannot use")
        for feature in (Feature.PURCHASE, Feature.CONSOLIDATION, Feature.POINTS_EXCHANGE):
            spec = self.app.matrix.spec(feature)
            try:
                self.app.require(self.sato.id, feature)
            except AccessDenied as exc:
                say(
                    f"    {self.sato.nickname} →「{spec.label_ja}」: {exc.ja}",
                    f"    {self.sato.nickname} → {spec.label_en}: {AccessDenied.default_en}",
                )

    def withdraw_a_line(self) -> None:
        self.clock.advance(minutes=30)
        self.say.section("高橋さんがガムテープの依頼を取り消し", "高橋 withdraws the tape")
        self.tape = self.requests["高橋"].lines[1]
        withdrawn = self.app.withdraw(self.takahashi.id, self.tape.id)
        self.say(
            f"    {self.tape.name}: {withdrawn.status.label_ja}",
            f"    {self.tape.name}: {withdrawn.status.label_en}",
        )

    def show_pending_list(self) -> None:
        say, app = self.say, self.app
        say.section(
            "とりまとめ担当者の「注文とりまとめ」画面", "The coordinator's consolidation screen"
        )
        count = app.pending_count(self.boss.id)
        say(f"    【依頼を見る】 {count}点", f"    [See requests] {count} pending")
        self.loaded_versions: dict[str, int] = {}
        groups = app.pending(self.boss.id)
        rows = []
        for group in groups:
            for line in group.lines:
                self.loaded_versions[line.id] = line.version
                rows.append([line.sku, line.name, f"×{line.quantity}", yen(line.unit_price),
                             line.status.label(say.lang)])  # fmt: skip
        texts = iter(aligned(rows, right=(2, 3)))
        for group in groups:
            say(f"    ▼ {group.requester_name}さん", f"    ▼ {group.requester_name}")
            for _ in group.lines:
                say.line("      " + next(texts))

    def decide(self) -> None:
        say, t = self.say, self.t
        self.clock.advance(minutes=12)
        say.section(
            "各商品を「とりまとめ」「保留」「削除」して【決定する】",
            "Consolidate, hold or delete each item, then Decide",
        )
        paper_sato, pens = self.requests["佐藤"].lines
        paper_suzuki, fusen, clear = self.requests["鈴木"].lines
        toner = self.requests["高橋"].lines[0]
        self.paper_sato = paper_sato
        choices = {
            paper_sato.id: Choice.CONSOLIDATE,
            pens.id: Choice.CONSOLIDATE,
            paper_suzuki.id: Choice.CONSOLIDATE,
            fusen.id: Choice.HOLD,
            clear.id: Choice.DELETE,
            toner.id: Choice.CONSOLIDATE,
        }
        self.by_id = {ln.id: ln for r in self.requests.values() for ln in r.lines}
        versions = {line_id: self.loaded_versions[line_id] for line_id in choices}
        self.decision = self.app.decide(self.boss.id, choices, versions=versions)
        d = self.decision
        for title, ids in (
            (t("とりまとめ", "Consolidated"), d.consolidated),
            (t("保留", "Held"), d.held),
            (t("削除", "Deleted"), d.deleted),
        ):
            say.line(f"    {title}:")
            for line_id in ids:
                say.line(f"      - {self.label(self.by_id[line_id])}")
        for change in d.price_changes:
            name = self.by_id[change.line_id].name
            prices = f"{yen(change.requested_unit_price)} → {yen(change.current_unit_price)}"
            say(
                f"    ⚠ 価格が変わっています: {name} {prices}",
                f"    ! Price changed: {name} {prices}",
            )

    def show_cart(self) -> None:
        say, t = self.say, self.t
        say.section("カゴの中身（同じ商品はまとめて表示）", "The cart (equal products merged)")
        rows = [[t("商品", "Product"), t("数量", "Qty"), t("単価", "Unit"), t("小計", "Amount"),
                 t("依頼元", "From")]]  # fmt: skip
        for item in self.cart.items(self.account_id):
            sources = "+".join(self.names[self.by_id[i].requester_id] for i in item.line_ids)
            rows.append([item.name, str(item.quantity), yen(item.unit_price), yen(item.amount),
                         sources])  # fmt: skip
        say.table(rows, right=(1, 2, 3))
        total = yen(self.cart.total(self.account_id))
        say(f"    合計 {total}", f"    Total {total}")
        say(
            "    ※ 伝言メッセージはカゴにも納品書・請求書にも載りません。",
            "    Note: messages never reach the cart, delivery notes or invoices.",
        )

    def decide_from_a_stale_tab(self) -> None:
        say = self.say
        say.section(
            "別のタブに残っていた古い画面から決定すると",
            "Deciding from a stale second tab",
        )
        paper, tape = self.paper_sato, self.tape
        try:
            self.app.decide(
                self.boss.id,
                {paper.id: Choice.HOLD, tape.id: Choice.DELETE},
                versions={paper.id: self.loaded_versions[paper.id], tape.id: tape.version},
            )
        except Conflict as exc:
            say(f"    {Conflict.default_ja}", f"    {Conflict.default_en} Reload the screen.")
            for line_id, reason in exc.lines.items():
                line = paper if line_id == paper.id else tape
                say.line(f"      - {self.label(line)}: {Conflict.reason_text(reason, say.lang)}")
        count = self.app.pending_count(self.boss.id)
        say(
            f"    何も変わっていません（依頼を見る {count}点のまま）",
            f"    Nothing changed (still {count} pending)",
        )

    def check_out(self) -> None:
        say, app = self.say, self.app
        self.clock.advance(hours=1)
        say.section("お買い上げ手続きと、オーダーステイタス", "Checkout and order statuses")
        received, preparing, shipped = (
            ("ご注文受付", "出荷準備中", "出荷済み")
            if say.lang == "ja"
            else ("Received", "Preparing shipment", "Shipped")
        )
        ordered = app.record_order(
            self.boss.id, ORDER_ID, list(self.decision.consolidated), order_status=received
        )
        say(
            f"    注文番号 {ORDER_ID}: {len(ordered)}点が「注文済」になりました",
            f"    Order {ORDER_ID}: {len(ordered)} items are now ordered",
        )
        left = len(self.cart.items(self.account_id))
        say(f"    カゴの残り: {left}点", f"    Left in the cart: {left}")
        for status, hours in ((preparing, 3), (shipped, 18)):
            self.clock.advance(hours=hours)
            app.record_order_status(self.boss.id, ORDER_ID, status)
            say(f"    オーダーステイタス →「{status}」", f"    Order status → {status}")

    def exchange_messages(self) -> None:
        say, app = self.say, self.app
        say.section("伝言メッセージのやりとり", "Messages both ways")
        request = self.requests["鈴木"]
        self.clock.advance(hours=1, minutes=5)
        app.post_message(self.suzuki.id, request.id, "ふせんはいつ頃になりますか？")
        self.clock.advance(minutes=40)
        app.post_message(self.boss.id, request.id, "来週まとめて注文します。\n少々お待ちください。")
        for post in app.thread(self.suzuki.id, request.id):
            at = post.posted_at.astimezone(TOKYO).strftime("%m/%d %H:%M")
            prefix = f"    [{at}] {post.author_name}: "
            for i, text in enumerate(post.body.splitlines()):
                say.line((prefix if i == 0 else " " * width(prefix)) + text)

    def show_history(self) -> None:
        say, t, app = self.say, self.t, self.app
        say.section("注文とりまとめの履歴", "Consolidation history")
        today = self.clock().astimezone(TOKYO).date()
        week_ago = today - dt.timedelta(days=7)
        period = app.history(self.boss.id, since=week_ago, until=today)
        say(
            f"    依頼期間 {week_ago}〜{today}: {len(period.items)}件",
            f"    Requested {week_ago} to {today}: {len(period.items)} requests",
        )
        for view in period.items:
            states = t("、", ", ").join(
                f"{ln.name}={ln.status.label(say.lang)}" for ln in view.lines
            )
            say.line(f"      {view.requester_name}: {states}")
        by_user = app.history(self.boss.id, requester_id=self.suzuki.id)
        posts = len(by_user.items[0].thread)
        say(
            f"    社内ユーザー「鈴木」で絞り込み: {len(by_user.items)}件（メッセージ {posts}件）",
            f"    Filtered by requester 鈴木: {len(by_user.items)} request ({posts} messages)",
        )
        last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        month_end = today.replace(day=1) - dt.timedelta(days=1)
        earlier = app.history(self.boss.id, since=last_month, until=month_end)
        say(
            f"    先月（{last_month:%Y-%m}）: {len(earlier.items)}件",
            f"    Last month ({last_month:%Y-%m}): {len(earlier.items)} requests",
        )

    def show_status_pages(self) -> None:
        say = self.say
        say.section("ご注文依頼状況確認（社内ユーザーごと）", "Request status (each internal user)")
        for who in (self.sato, self.suzuki, self.takahashi):
            for view in self.app.my_requests(who.id).items:
                say.line(
                    f"    ▼ {who.nickname}  {view.submitted_at.astimezone(TOKYO):%Y-%m-%d %H:%M}"
                )
                rows = [[f"      {ln.name}", f"×{ln.quantity}", ln.status.label(say.lang),
                         ln.order_status or ""] for ln in view.lines]  # fmt: skip
                say.table(rows, indent="", right=(1,))
                for post in view.thread:
                    say.line(f"      💬 {post.author_name}: {post.body.splitlines()[0]}")

    def purge_after_sixteen_months(self) -> None:
        say, app = self.say, self.app
        say.section(
            "16ヵ月後: 保持期間（1年3ヵ月）を過ぎたデータの削除",
            "16 months later: purge what is past the 15-month window",
        )
        self.clock.advance(days=487)
        today = self.clock().astimezone(TOKYO)
        say(f"    今日: {today:%Y-%m-%d}", f"    Today: {today:%Y-%m-%d}")
        dry = app.purge_expired(dry_run=True)
        real = app.purge_expired()
        counts_ja = "依頼 {} / 明細 {} / メッセージ {} / メール {}"
        counts_en = "requests {} / lines {} / messages {} / mails {}"
        say(
            "    削除対象の確認（ドライラン）: "
            + counts_ja.format(dry.requests, dry.lines, dry.messages, dry.mails),
            "    Dry run: " + counts_en.format(dry.requests, dry.lines, dry.messages, dry.mails),
        )
        say(
            "    削除: " + counts_ja.format(real.requests, real.lines, real.messages, real.mails)
            + f"（未完了の依頼 {real.kept_open}件は残ります）",
            "    Purged: " + counts_en.format(real.requests, real.lines, real.messages, real.mails)
            + f" (kept {real.kept_open} open request)",
        )  # fmt: skip
        left = app.history(self.boss.id)
        say(
            f"    履歴に残る依頼: {len(left.items)}件（{left.items[0].requester_name}さんの保留中の依頼）",
            f"    History now: {len(left.items)} request ({left.items[0].requester_name}'s, still open)",
        )
        count = app.pending_count(self.boss.id)
        say(f"    【依頼を見る】 {count}点", f"    [See requests] {count} pending")


def matrix_table(lang: str = "ja", app_matrix: torimatome.RestrictionMatrix | None = None) -> str:
    """The restriction matrix as a text table (``torimatome matrix``)."""
    matrix = app_matrix or torimatome.RestrictionMatrix.build()
    ja = lang == "ja"
    rows = [["code", "名称" if ja else "Feature", "制限される機能" if ja else "Denied part",
             "担当者" if ja else "Coord.", "社内" if ja else "Internal"]]  # fmt: skip
    for spec in matrix.rows():
        rows.append(
            [
                spec.code,
                spec.label_ja if ja else spec.label_en,
                spec.denied_part_ja if ja else spec.denied_part_en,
                "○" if torimatome.Role.COORDINATOR in spec.allowed else "×",
                "○" if torimatome.Role.INTERNAL in spec.allowed else "×",
            ]
        )
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append(
            "  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True)).rstrip()
        )
        if n == 0:
            out.append("  ".join("─" * w for w in widths))
    return "\n".join(out)
