"""Installed plugins are found through the entry-point group ``torimatome``, in a fixed order.

Each test installs a throwaway distribution the way pip lays one out (a module beside a
``*.dist-info`` folder holding ``entry_points.txt``) on ``sys.path``, so discovery runs through
``importlib.metadata`` exactly as it does for a real installed package.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

import torimatome
from torimatome import ConfigurationError, MemoryMailTransport, NewUser, hookimpl

from ..conftest import block_plugins

_serial = itertools.count()


class Installer:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.monkeypatch = monkeypatch
        monkeypatch.syspath_prepend(str(root))

    def install(self, dist: str, version: str, entry: str, source: str) -> str:
        """Install ``source`` as a module of distribution ``dist`` with entry point ``entry``;
        return the module's (unique) name."""
        module = f"tm_fake_plugin_{next(_serial)}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[torimatome]\n{entry} = {module}\n", encoding="utf-8"
        )
        self.monkeypatch.delitem(sys.modules, module, raising=False)
        return module


@pytest.fixture
def installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Installer:
    monkeypatch.delenv("TORIMATOME_TRACE_PLUGINS", raising=False)
    return Installer(tmp_path, monkeypatch)


BACKEND = """
    from torimatome import hookimpl
    from torimatome.adapters.memory_storage import MemoryStorage

    __version__ = "module-version"

    @hookimpl
    def torimatome_register_storage(registry):
        registry.add("fakedb", lambda url, config: MemoryStorage())
"""

LINKS = """
    from torimatome import hookimpl

    @hookimpl
    def torimatome_screen_url(screen, account_id, request_id):
        return "https://installed.example/" + screen
"""


class Links:
    @hookimpl
    def torimatome_screen_url(self, screen: str) -> str:
        return "https://explicit.example/" + screen


def _coordinator_notice_url(app: torimatome.App) -> str:
    mail = next(p for p in app.pm.get_plugins() if isinstance(p, MemoryMailTransport))
    reg = app.create_account(
        "商事", coordinator=NewUser(login_id="boss", email="boss@example.com", nickname="山田")
    )
    sato = app.register_internal_user(
        reg.user.id, NewUser(login_id="sato", email="sato@example.com", nickname="佐藤")
    )
    app.submit_request(
        sato.user.id,
        [torimatome.NewLine(sku="A-1", name="ペン", quantity=1, unit_price=Decimal(100))],
    )
    app.deliver_mail()
    (notice,) = mail.to("boss@example.com")
    body = notice.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    return next(line for line in text.splitlines() if line.startswith("https://"))


def test_an_installed_backend_is_found_by_its_scheme_with_no_registration_code(
    installer: Installer,
) -> None:
    module = installer.install("torimatome-fakedb", "1.2.3", "fakedb", BACKEND)
    with torimatome.open("fakedb://anything") as app:
        assert type(app.storage).__name__ == "MemoryStorage"
        (info,) = [p for p in app.plugins() if p.source == "entry point"]
        assert info.name == "fakedb"
        assert info.distribution == "torimatome-fakedb"
        assert info.version == "1.2.3"
        assert info.hooks == ("torimatome_register_storage",)
        assert sys.modules[module].torimatome_register_storage in [
            impl.function for impl in app.pm.hook.torimatome_register_storage.get_hookimpls()
        ]


@pytest.mark.parametrize("blocked", ["fakedb", "torimatome-fakedb", "other, FAKEDB "])
def test_a_blocked_plugin_is_not_loaded(
    installer: Installer, monkeypatch: pytest.MonkeyPatch, blocked: str
) -> None:
    installer.install("torimatome-fakedb", "1.2.3", "fakedb", BACKEND)
    block_plugins(monkeypatch, blocked)
    with pytest.raises(
        ConfigurationError, match=r"Unknown storage scheme 'fakedb'.*memory, sqlite"
    ):
        torimatome.open("fakedb://anything")
    with torimatome.open("memory://") as app:
        assert [p.source for p in app.plugins()] == ["built-in", "built-in"]


def test_an_unknown_scheme_names_the_schemes_plugins_added(installer: Installer) -> None:
    installer.install("torimatome-fakedb", "1.2.3", "fakedb", BACKEND)
    with pytest.raises(ConfigurationError, match=r"known schemes: fakedb, memory, sqlite"):
        torimatome.open("postgres://db")


def test_a_plugin_passed_to_open_answers_before_an_installed_one(installer: Installer) -> None:
    installer.install("torimatome-links", "0.1", "links", LINKS)
    with torimatome.open("memory://", plugins=[Links(), MemoryMailTransport()]) as app:
        assert _coordinator_notice_url(app) == "https://explicit.example/consolidation"
    with torimatome.open("memory://", plugins=[MemoryMailTransport()]) as app:
        assert _coordinator_notice_url(app) == "https://installed.example/consolidation"


def test_an_installed_cart_answers_before_the_reference_cart(installer: Installer) -> None:
    installer.install(
        "torimatome-cartbridge",
        "2.0",
        "cartbridge",
        """
        from torimatome import CartRef, hookimpl

        ADDED = []

        @hookimpl
        def torimatome_add_to_cart(account_id, coordinator_id, entries):
            ADDED.extend(entries)
            return [CartRef(e.line_id, "shop-" + e.line_id) for e in entries]
        """,
    )
    with torimatome.open("memory://") as app:
        reg = app.create_account("商事", coordinator=NewUser(login_id="boss", nickname="山田"))
        sato = app.register_internal_user(reg.user.id, NewUser(login_id="sato", nickname="佐藤"))
        request = app.submit_request(
            sato.user.id,
            [torimatome.NewLine(sku="A-1", name="ペン", quantity=2, unit_price=Decimal(100))],
        )
        line = request.lines[0]
        decision = app.decide(reg.user.id, {line.id: "consolidate"})
        assert [ref.ref for ref in decision.cart_refs] == [f"shop-{line.id}"]
        assert app.default_cart.items(reg.account.id, reg.user.id) == []


def test_the_plugins_report_lists_them_in_the_order_they_are_asked(installer: Installer) -> None:
    installer.install("torimatome-links", "0.1", "links", LINKS)
    links, mail = Links(), MemoryMailTransport()
    with torimatome.open("memory://", plugins=[links, mail]) as app:
        report = app.plugins()
    assert [(p.source, p.name) for p in report] == [
        ("open()", "tests.integration.test_plugin_discovery.Links"),
        ("open()", "torimatome.adapters.mail_transports.MemoryMailTransport"),
        ("entry point", "links"),
        ("built-in", "torimatome.adapters.builtin"),
        ("built-in", "torimatome.adapters.builtin.DefaultCart"),
    ]
    assert report[0].hooks == ("torimatome_screen_url",)
    assert report[1].version == torimatome.__version__  # its package's version
    assert report[3].distribution == "torimatome"


def test_two_instances_of_one_plugin_class_are_both_registered() -> None:
    first, second = MemoryMailTransport(), MemoryMailTransport()
    with torimatome.open("memory://", plugins=[first, second]) as app:
        names = [p.name for p in app.plugins() if p.source == "open()"]
    assert names == [
        "torimatome.adapters.mail_transports.MemoryMailTransport",
        "torimatome.adapters.mail_transports.MemoryMailTransport#2",
    ]


def test_an_installed_plugin_that_fails_to_import_names_itself_and_the_way_out(
    installer: Installer,
) -> None:
    installer.install("torimatome-broken", "0.1", "broken", "raise RuntimeError('boom')\n")
    with pytest.raises(ConfigurationError, match=r"'broken'.*boom.*TORIMATOME_DISABLE_PLUGINS"):
        torimatome.open("memory://")


def test_an_installed_plugin_with_a_misspelt_hook_fails_loudly(installer: Installer) -> None:
    installer.install(
        "torimatome-typo",
        "0.1",
        "typo",
        """
        from torimatome import hookimpl

        @hookimpl
        def torimatome_screen_uri(screen):
            return None
        """,
    )
    with pytest.raises(ConfigurationError, match="torimatome_screen_uri"):
        torimatome.open("memory://")


def test_an_entry_point_naming_a_class_is_refused(installer: Installer) -> None:
    module = installer.install("torimatome-klass", "0.1", "klass", "class Plugin:\n    pass\n")
    info = next(installer.root.glob("torimatome_klass-*.dist-info"))
    (info / "entry_points.txt").write_text(f"[torimatome]\nklass = {module}:Plugin\n")
    with pytest.raises(ConfigurationError, match="names a class"):
        torimatome.open("memory://")


def test_tracing_prints_every_hook_call(
    installer: Installer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TORIMATOME_TRACE_PLUGINS", "1")
    with torimatome.open("memory://") as app:
        app.create_account("商事", coordinator=NewUser(login_id="boss", nickname="山田"))
    err = capsys.readouterr().err
    assert "torimatome_register_storage" in err
    assert "torimatome_user_registered" in err


# -- an installed plugin gets the same wiring checks as one passed to open() ------------------


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (  # an argument the hook does not have
            """
            from torimatome import hookimpl

            @hookimpl
            def torimatome_screen_url(screen, shop_id):
                return None
            """,
            r"(?s)installed plugin 'bad' \(torimatome-bad 0\.1\).*shop_id",
        ),
        (  # a hook function without @hookimpl would never run
            """
            def torimatome_screen_url(screen):
                return "https://never.example/" + screen
            """,
            r"installed plugin 'bad'.*torimatome_screen_url without @hookimpl",
        ),
        (  # a module with no hook at all
            "VALUE = 1\n",
            r"installed plugin 'bad'.*implements no torimatome hook",
        ),
        (  # jumping ahead of the shop's own plugins
            """
            from torimatome import hookimpl

            @hookimpl(tryfirst=True)
            def torimatome_screen_url(screen):
                return "https://pushy.example/" + screen
            """,
            r"installed plugin 'bad'.*tryfirst.*TORIMATOME_DISABLE_PLUGINS=bad",
        ),
    ],
    ids=["wrong-argument", "unmarked", "no-hook", "tryfirst"],
)
def test_an_installed_plugin_with_a_wiring_mistake_is_refused_by_name(
    installer: Installer, source: str, match: str
) -> None:
    installer.install("torimatome-bad", "0.1", "bad", source)
    with pytest.raises(ConfigurationError, match=match):
        torimatome.open("memory://")


def test_an_installed_hookwrapper_may_watch_every_call(installer: Installer) -> None:
    module = installer.install(
        "torimatome-watch",
        "0.1",
        "watch",
        """
        from torimatome import hookimpl

        SEEN = []

        @hookimpl(wrapper=True)
        def torimatome_screen_url(screen):
            SEEN.append(screen)
            return (yield)
        """,
    )
    with torimatome.open("memory://", plugins=[Links()]) as app:
        url = app.pm.hook.torimatome_screen_url(
            screen="consolidation", account_id="a", request_id=None
        )
    assert url == "https://explicit.example/consolidation"
    assert sys.modules[module].SEEN == ["consolidation"]


def test_two_entry_points_naming_one_module_register_it_once(installer: Installer) -> None:
    module = installer.install("torimatome-twice", "0.1", "a", LINKS)
    info = next(installer.root.glob("torimatome_twice-*.dist-info"))
    (info / "entry_points.txt").write_text(f"[torimatome]\na = {module}\nb = {module}\n")
    with torimatome.open("memory://") as app:
        assert [p.name for p in app.plugins() if p.source == "entry point"] == ["a"]


def test_two_distributions_claiming_one_plugin_name_are_refused_not_shadowed(
    installer: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    installer.install("torimatome-first", "1.0", "links", LINKS)
    installer.install("torimatome-second", "1.0", "links", BACKEND)
    with pytest.raises(
        ConfigurationError, match=r"both named 'links'.*torimatome-first.*torimatome-second"
    ):
        torimatome.open("memory://")
    block_plugins(monkeypatch, "torimatome-first")
    with torimatome.open("fakedb://") as app:
        assert [p.distribution for p in app.plugins() if p.source == "entry point"] == [
            "torimatome-second"
        ]


def test_a_plugin_passed_to_open_keeps_its_place_even_when_it_is_also_installed(
    installer: Installer,
) -> None:
    import importlib

    module = importlib.import_module(
        installer.install("torimatome-shoplinks", "1.0", "shoplinks", LINKS)
    )
    with torimatome.open("memory://", plugins=[module, Links()]) as app:
        url = app.pm.hook.torimatome_screen_url(
            screen="consolidation", account_id="a", request_id=None
        )
        sources = [(p.source, p.name) for p in app.plugins()][:2]
    assert url == "https://installed.example/consolidation"  # the first listed answers
    assert sources == [
        ("open()", module.__name__),
        ("open()", "tests.integration.test_plugin_discovery.Links"),
    ]


@pytest.mark.parametrize(
    "spelling", ["torimatome_fakedb", "Torimatome.FakeDB", " torimatome-fakedb "]
)
def test_a_distribution_is_blocked_by_any_spelling_pip_accepts(
    installer: Installer, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    installer.install("torimatome-fakedb", "1.2.3", "fakedb", BACKEND)
    block_plugins(monkeypatch, spelling)
    with pytest.raises(ConfigurationError, match="Unknown storage scheme"):
        torimatome.open("fakedb://")


@pytest.mark.parametrize("value", ["0", "", "no", "false", "off"])
def test_tracing_stays_off_unless_asked_for(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("TORIMATOME_TRACE_PLUGINS", value)
    torimatome.open("memory://").close()
    assert "torimatome_register_storage" not in capsys.readouterr().err
