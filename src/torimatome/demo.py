"""The main job: a whole office plays the consolidated-ordering workflow, as a transcript.

``torimatome demo`` opens a fresh SQLite file, creates an office with a coordinator and three
internal users, and walks every screen of the seed: requests with messages, the restricted
screens, the pending list, a decide batch, the merged cart, a stale second tab, checkout and
order statuses, the message thread, history, status pages, mail and, 16 months later, a purge.
Everything goes through the public API, exactly as a shop would call it.
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
    Choice,
    Config,
    Conflict,
    ConsoleMailTransport,
    Feature,
    InvalidInput,
    MemoryCart,
    NewLine,
    NewUser,
    hookimpl,
)
from torimatome.domain.text import width

__all__ = ["DemoClock", "run"]

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
    def __init__(self, out: TextIO, lang: str) -> None:
        self.out, self.lang = out, lang
        self.step = 0

    def t(self, ja: str, en: str) -> str:
        return ja if self.lang == "ja" else en

    def __call__(self, ja: str, en: str = "") -> None:
        print(self.t(ja, en or ja), file=self.out)

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def section(self, ja: str, en: str) -> None:
        self.step += 1
        title = f"{self.step:>2}. {self.t(ja, en)}"
        print(f"\n{title}\n{'─' * min(78, width(title))}", file=self.out)

    def table(self, rows: list[list[str]], indent: str = "    ") -> None:
        widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = [c + " " * (w - width(c)) for c, w in zip(row, widths, strict=True)]
            print(indent + "  ".join(cells).rstrip(), file=self.out)


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
        path = Path(db)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    clock = DemoClock(dt.datetime(2026, 4, 6, 9, 0, tzinfo=TOKYO))
    cart = MemoryCart(prices=TODAY_PRICES, refuse={"DISCONTINUED": "販売終了"})
    mail = ConsoleMailTransport(out)
    config = Config(mail_from="noreply@shop.example.jp", mail_from_name="オフィス用品ショップ")
    with torimatome.open(url, plugins=[cart, mail, ShopUrls()], clock=clock, config=config) as app:
        _scenario(app, say, clock, cart)
    say.line()
    say(f"データベース: {url}", f"Database: {url}")
    return 0


def _scenario(app: torimatome.App, say: _Say, clock: DemoClock, cart: MemoryCart) -> None:
    t = say.t
    say.section("アカウントととりまとめ担当者を作成", "Create the account and its coordinator")
    reg = app.create_account(
        "サンプル商事株式会社 総務部",
        coordinator=NewUser(login_id="yamada", email="soumu@sample-shoji.example", nickname="山田"),
        timezone="Asia/Tokyo",
    )
    boss = reg.user
    account_id = reg.account.id
    say(
        f"    {reg.account.name}（タイムゾーン {reg.account.timezone}）",
        f"    {reg.account.name} (timezone {reg.account.timezone})",
    )
    say.table(
        [
            [
                t("役割", "Role"),
                t("名前", "Name"),
                t("ログインID", "Login ID"),
                t("初期パスワード", "Initial password"),
            ],
            [
                boss.role.label_ja if say.lang == "ja" else boss.role.label_en,
                boss.nickname,
                boss.login_id,
                reg.password,
            ],
        ]
    )

    say.section(
        "社内ユーザーを3人登録（初期パスワードは一度だけ表示）",
        "Register three internal users (initial passwords shown once)",
    )
    people = {}
    for nickname, login, email in (
        ("佐藤", "sato", "sato@sample-shoji.example"),
        ("鈴木", None, "suzuki@sample-shoji.example"),
        ("高橋", "takahashi", "soumu@sample-shoji.example"),
    ):
        registration = app.register_internal_user(
            boss.id, NewUser(login_id=login, email=email, nickname=nickname, industry="卸売業")
        )
        people[nickname] = registration
    rows = [
        [t("名前", "Name"), t("ログインID", "Login ID"), t("初期パスワード", "Password"), "E-mail"]
    ]
    rows += [[r.user.nickname, r.user.login_id, r.password, r.user.email] for r in people.values()]
    say.table(rows)
    say(
        "    ※ 高橋さんは総務部の共有アドレスを山田さんと共用しています。",
        "    Note: Takahashi shares the department address with Yamada.",
    )
    sato = app.authenticate("sato", people["佐藤"].password)
    suzuki, takahashi = people["鈴木"].user, people["高橋"].user
    say(
        f"    {sato.nickname}: ログイン成功（{sato.login_id}）",
        f"    {sato.nickname}: logged in ({sato.login_id})",
    )

    say.section("社内ユーザーがカゴから注文を依頼", "Internal users request their carts")

    def lines(*items: tuple[str, int]) -> list[NewLine]:
        return [
            NewLine(sku=sku, name=CATALOG[sku][0], quantity=qty, unit_price=CATALOG[sku][1])
            for sku, qty in items
        ]

    requests = {}
    for who, items, message in (
        (sato, lines(("A4-500", 5), ("PEN-BK", 10)), "急ぎでお願いします。"),
        (suzuki, lines(("A4-500", 3), ("FUSEN", 4), ("CLEAR", 5)), "来週の会議で使います"),
        (takahashi, lines(("TONER", 1), ("TAPE", 6)), ""),
    ):
        clock.advance(minutes=17)
        request = app.submit_request(who.id, items, message, idempotency_key=f"cart-{who.id}")
        requests[who.nickname] = request
        total = sum((ln.amount for ln in request.lines), Decimal(0))
        say(
            f"    {who.nickname}: {len(request.lines)}点 {yen(total)}"
            + (f"  伝言「{message}」" if message else ""),
            f"    {who.nickname}: {len(request.lines)} lines {yen(total)}"
            + (f'  message "{message}"' if message else ""),
        )
    retry = app.submit_request(
        sato.id,
        lines(("A4-500", 5), ("PEN-BK", 10)),
        "急ぎでお願いします。",
        idempotency_key=f"cart-{sato.id}",
    )
    say(
        f"    二重クリック: 同じ依頼が返り、新しい依頼は作られません（{retry.id == requests['佐藤'].id}）",
        f"    Double click: the same request comes back, no new one ({retry.id == requests['佐藤'].id})",
    )

    say.section("長すぎる伝言メッセージは受け付けません", "An over-long message is refused")
    long_message = "会議室の備品が足りないので" + "、" * 44
    try:
        app.submit_request(suzuki.id, lines(("FUSEN", 1)), long_message)
    except InvalidInput as exc:
        say(f"    {exc.ja}", f"    {exc.en}")

    say.section("社内ユーザーが使えない機能", "Features internal users cannot use")
    for feature in (Feature.PURCHASE, Feature.CONSOLIDATION, Feature.POINTS_EXCHANGE):
        try:
            app.require(sato.id, feature)
        except AccessDenied as exc:
            spec = app.matrix.spec(feature)
            label = spec.label_ja if say.lang == "ja" else spec.label_en
            say(
                f"    {sato.nickname} →「{label}」: {exc.ja}",
                f"    {sato.nickname} → {label}: {exc.en}",
            )
    try:
        app.pending(sato.id)
    except AccessDenied as exc:
        say(
            f"    {sato.nickname} → 注文とりまとめ画面: {exc.ja}",
            f"    {sato.nickname} → consolidation screen: {exc.en}",
        )

    clock.advance(minutes=30)
    say.section("高橋さんがガムテープの依頼を取り消し", "Takahashi withdraws the tape")
    tape = requests["高橋"].lines[1]
    withdrawn = app.withdraw(takahashi.id, tape.id)
    say(
        f"    {tape.name}: {withdrawn.status.label_ja}",
        f"    {tape.name}: {withdrawn.status.label_en}",
    )

    say.section(
        "とりまとめ担当者の「注文とりまとめ」画面", "The coordinator's consolidation screen"
    )
    say(
        f"    【依頼を見る】 {app.pending_count(boss.id)}件",
        f"    [See requests] {app.pending_count(boss.id)} lines",
    )
    groups = app.pending(boss.id)
    loaded_versions = {}
    for group in groups:
        say(f"    ▼ {group.requester_name} さん", f"    ▼ {group.requester_name}")
        rows = []
        for line in group.lines:
            loaded_versions[line.id] = line.version
            rows.append(
                [
                    line.sku,
                    line.name,
                    f"×{line.quantity}",
                    yen(line.unit_price),
                    line.status.label(say.lang),
                    f"v{line.version}",
                ]
            )
        say.table(rows, indent="      ")

    clock.advance(minutes=12)
    say.section(
        "各商品を「とりまとめ」「保留」「削除」して【決定する】",
        "Consolidate, hold or delete each line, then Decide",
    )
    paper_sato, pens = requests["佐藤"].lines
    paper_suzuki, fusen, clear = requests["鈴木"].lines
    toner = requests["高橋"].lines[0]
    choices = {
        paper_sato.id: Choice.CONSOLIDATE,
        pens.id: Choice.CONSOLIDATE,
        paper_suzuki.id: Choice.CONSOLIDATE,
        fusen.id: Choice.HOLD,
        clear.id: Choice.DELETE,
        toner.id: Choice.CONSOLIDATE,
    }
    names = {ln.id: ln.name for r in requests.values() for ln in r.lines}
    decision = app.decide(boss.id, choices, versions={k: loaded_versions[k] for k in choices})
    for title, ids in (
        (t("とりまとめ", "Consolidated"), decision.consolidated),
        (t("保留", "Held"), decision.held),
        (t("削除", "Deleted"), decision.deleted),
    ):
        say(
            f"    {title}: " + "、".join(names[i] for i in ids),
            f"    {title}: " + ", ".join(names[i] for i in ids),
        )
    for change in decision.price_changes:
        say(
            f"    ⚠ 価格変更: {names[change.line_id]} {yen(change.requested_unit_price)} → "
            f"{yen(change.current_unit_price)}",
            f"    ! Price changed: {names[change.line_id]} {yen(change.requested_unit_price)} → "
            f"{yen(change.current_unit_price)}",
        )

    say.section("カゴの中身（同じ商品はまとめて表示）", "The cart (equal products merged)")
    rows = [
        [
            t("商品", "Product"),
            t("数量", "Qty"),
            t("単価", "Unit"),
            t("小計", "Amount"),
            t("依頼元", "From"),
        ]
    ]
    who_of = {ln.id: r.requester_id for r in requests.values() for ln in r.lines}
    nick = {u.id: u.nickname for u in app.users(boss.id)}
    for item in cart.items(account_id):
        sources = "+".join(nick[who_of[i]] for i in item.line_ids)
        rows.append(
            [item.name, str(item.quantity), yen(item.unit_price), yen(item.amount), sources]
        )
    say.table(rows)
    say(
        f"    {t('合計', 'Total')}: {yen(cart.total(account_id))}"
        f"   {t('（伝言メッセージはカゴ・納品書・請求書に載りません）', '(messages never reach the cart, delivery notes or invoices)')}"
    )

    say.section("別タブの古い画面から決定すると競合", "Deciding from a stale second tab conflicts")
    try:
        app.decide(
            boss.id,
            {paper_sato.id: Choice.HOLD, tape.id: Choice.DELETE},
            versions={paper_sato.id: loaded_versions[paper_sato.id], tape.id: tape.version},
        )
    except Conflict as exc:
        say(f"    {exc.ja}", f"    {exc.en.split(' Lines:')[0]}")
        for line_id, reason in exc.lines.items():
            say(f"      - {names[line_id]}: {reason}")
    say(
        f"    {t('何も変わっていません: 依頼を見る', 'Nothing changed: pending')} "
        f"{app.pending_count(boss.id)}"
    )

    clock.advance(hours=1)
    say.section("ご注文手続き（お買い上げ）と注文状況", "Checkout and order statuses")
    ordered = app.record_order(
        boss.id, "W2604-000123", list(decision.consolidated), order_status="ご注文受付"
    )
    say(
        f"    注文番号 W2604-000123: {len(ordered)}明細が「注文済」になりました",
        f"    Order W2604-000123: {len(ordered)} lines are now ordered",
    )
    say(f"    {t('カゴの残り', 'Left in the cart')}: {len(cart.items(account_id))}")
    for status, hours in (("出荷準備中", 3), ("出荷済み", 18)):
        clock.advance(hours=hours)
        app.record_order_status(boss.id, "W2604-000123", status)
        say(f"    オーダーステイタス →「{status}」", f"    Order status → {status}")

    say.section("伝言メッセージのやりとり", "Messages both ways")
    clock.advance(hours=1, minutes=5)
    app.post_message(suzuki.id, requests["鈴木"].id, "ふせんはいつ頃になりますか？")
    clock.advance(minutes=40)
    app.post_message(boss.id, requests["鈴木"].id, "来週まとめて注文します。\n少々お待ちください。")
    for post in app.thread(suzuki.id, requests["鈴木"].id):
        at = post.posted_at.astimezone(TOKYO).strftime("%m/%d %H:%M")
        for i, text in enumerate(post.body.splitlines()):
            prefix = f"    [{at}] {post.author_name}: " if i == 0 else " " * 20
            say.line(prefix + text)

    say.section("注文とりまとめの履歴", "Consolidation history")
    today = clock().astimezone(TOKYO).date()
    period = app.history(boss.id, since=today - dt.timedelta(days=7), until=today)
    say(
        f"    期間 {today - dt.timedelta(days=7)}〜{today}: {len(period.items)}件",
        f"    From {today - dt.timedelta(days=7)} to {today}: {len(period.items)} requests",
    )
    for view in period.items:
        states = t("、", ", ").join(f"{ln.name}={ln.status.label(say.lang)}" for ln in view.lines)
        say.line(f"      {view.requester_name}: {states}")
    by_user = app.history(boss.id, requester_id=suzuki.id)
    say(
        f"    社内ユーザー「鈴木」で絞り込み: {len(by_user.items)}件（メッセージ {len(by_user.items[0].thread)}件）",
        f"    Filtered by Suzuki: {len(by_user.items)} request ({len(by_user.items[0].thread)} messages)",
    )
    empty = app.history(
        boss.id, since=today - dt.timedelta(days=60), until=today - dt.timedelta(days=30)
    )
    say(f"    先月の期間: {len(empty.items)}件", f"    Last month: {len(empty.items)} requests")

    say.section("ご注文依頼状況確認（社内ユーザーごと）", "Request status (each internal user)")
    for who in (sato, suzuki, takahashi):
        page = app.my_requests(who.id)
        for view in page.items:
            say.line(f"    ▼ {who.nickname}  {view.submitted_at.astimezone(TOKYO):%Y-%m-%d %H:%M}")
            for ln in view.lines:
                status = ln.status.label(say.lang)
                extra = f"  {ln.order_status}" if ln.order_status else ""
                say.line(f"        {ln.name} ×{ln.quantity}  {status}{extra}")
            for post in view.thread:
                say.line(f"        💬 {post.author_name}: {post.body.splitlines()[0]}")

    say.section("メール送信（アウトボックスから配信）", "Mail delivery (from the outbox)")
    report = app.deliver_mail()
    say(
        f"    送信 {report.sent}通 / 失敗 {report.failed}通 / 未送信 {report.pending}通",
        f"    sent {report.sent} / failed {report.failed} / pending {report.pending}",
    )
    say(
        "    ※ 共有アドレスには通知が1通だけ届きます（とりまとめ担当者向けの内容）。",
        "    Note: the shared address got one mail only (the coordinator's notice).",
    )

    say.section(
        "16か月後: 保持期間（1年3ヵ月）を過ぎたデータの削除",
        "16 months later: purge what is past the 15-month window",
    )
    clock.advance(days=487)
    say(f"    {t('今日', 'Today')}: {clock().astimezone(TOKYO):%Y-%m-%d}")
    dry = app.purge_expired(dry_run=True)
    real = app.purge_expired()
    say(
        f"    予行演習: 依頼 {dry.requests} / 明細 {dry.lines} / メッセージ {dry.messages} / メール {dry.mails}",
        f"    Dry run: requests {dry.requests} / lines {dry.lines} / messages {dry.messages} / mails {dry.mails}",
    )
    say(
        f"    削除: 依頼 {real.requests} / 明細 {real.lines} / メッセージ {real.messages} / メール {real.mails}"
        f"（保留中の依頼 {real.kept_open}件は残ります）",
        f"    Purged: requests {real.requests} / lines {real.lines} / messages {real.messages} / mails {real.mails}"
        f" (kept {real.kept_open} open request)",
    )
    left = app.history(boss.id)
    say(
        f"    履歴に残る依頼: {len(left.items)}件（{left.items[0].requester_name}さんの保留中の依頼）",
        f"    History now: {len(left.items)} request ({left.items[0].requester_name}'s, still open)",
    )
    say(f"    {t('依頼を見る', 'Pending')}: {app.pending_count(boss.id)}")


def matrix_table(lang: str = "ja", app_matrix: torimatome.RestrictionMatrix | None = None) -> str:
    """The restriction matrix as a text table (``torimatome matrix``)."""
    matrix = app_matrix or torimatome.RestrictionMatrix.build()
    ja = lang == "ja"
    rows = [
        [
            "code",
            "名称" if ja else "Feature",
            "制限される機能" if ja else "Denied part",
            "担当者" if ja else "Coord.",
            "社内" if ja else "Internal",
        ]
    ]
    for spec in matrix.rows():
        rows.append(
            [
                spec.code,
                spec.label_ja if ja else spec.label_en,
                spec.denied_part_ja if ja else "",
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
