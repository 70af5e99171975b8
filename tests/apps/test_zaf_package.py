"""The Zendesk sidebar app validates and packages; each broken rule names file and field."""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from switchboard.apps.zendesk.packager import (
    DEFAULT_APP_DIR,
    InvalidZendeskApp,
    package_app,
    validate_app,
)

SHIPPED_FILES = [
    "manifest.json",
    "assets/app.css",
    "assets/app.js",
    "assets/call_card.js",
    "assets/disposition.js",
    "assets/iframe.html",
    "assets/vendor/LICENSE",
    "assets/vendor/LICENSE-native-promise-only",
    "assets/vendor/zaf_sdk.min.js",
    "translations/en.json",
]


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A writable copy of the shipped app, to break."""
    copy = tmp_path / "zendesk"
    shutil.copytree(DEFAULT_APP_DIR, copy)
    return copy


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def edit_manifest(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(app: Path) -> None:
        manifest = read(app / "manifest.json")
        change(manifest)
        write(app / "manifest.json", manifest)
    return apply


def edit_translation(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(app: Path) -> None:
        data = read(app / "translations" / "en.json")
        change(data)
        write(app / "translations" / "en.json", data)
    return apply


def param(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in manifest["parameters"] if p["name"] == name)


def test_the_shipped_app_is_valid() -> None:
    assert validate_app(DEFAULT_APP_DIR) == []


def test_the_shipped_app_packages_to_exactly_its_files(tmp_path: Path) -> None:
    target = package_app(DEFAULT_APP_DIR, tmp_path / "dist")
    assert target == tmp_path / "dist" / "switchboard-zendesk-app-1.0.0.zip"
    with zipfile.ZipFile(target) as archive:
        assert archive.namelist() == SHIPPED_FILES
        assert archive.testzip() is None
        for name in SHIPPED_FILES:
            assert archive.read(name) == (DEFAULT_APP_DIR / name).read_bytes(), name
    assert [p.name for p in (tmp_path / "dist").iterdir()] == [target.name]  # no partial file left


def test_packaging_is_reproducible(tmp_path: Path) -> None:
    first = package_app(DEFAULT_APP_DIR, tmp_path / "one").read_bytes()
    second = package_app(DEFAULT_APP_DIR, tmp_path / "two").read_bytes()
    assert first == second


def test_readme_and_dotfiles_stay_out_of_the_package(app: Path, tmp_path: Path) -> None:
    (app / ".env").write_text("SECRET=1")
    (app / "assets" / ".DS_Store").write_bytes(b"\0")
    (app / "assets" / ".cache").mkdir()
    (app / "assets" / ".cache" / "old.js").write_text("//")
    (app / "translations" / ".en.json.swp").write_text("x")
    (app / "notes.txt").write_text("not for Zendesk")
    with zipfile.ZipFile(package_app(app, tmp_path / "dist")) as archive:
        assert archive.namelist() == SHIPPED_FILES
    assert (app / "README.md").exists()  # it was there, and it was left out


def test_domains_become_the_packaged_domain_whitelist(tmp_path: Path) -> None:
    target = package_app(DEFAULT_APP_DIR, tmp_path, domains=["support.example.com", "support.example.com"])
    with zipfile.ZipFile(target) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["domainWhitelist"] == ["support.example.com"]
    assert "domainWhitelist" not in read(DEFAULT_APP_DIR / "manifest.json")  # source untouched


def test_a_domain_with_a_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidZendeskApp) as caught:
        package_app(DEFAULT_APP_DIR, tmp_path, domains=["https://support.example.com/"])
    assert caught.value.problems == [(
        "domains to allow: 'https://support.example.com/' is not a host name; list hosts such as "
        "support.example.com, without https:// or a path")]
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_app_is_not_packaged_and_every_problem_is_listed(app: Path, tmp_path: Path) -> None:
    def two_problems(manifest: dict[str, Any]) -> None:
        del manifest["author"]["email"]
        manifest["frameworkVersion"] = "1.0"

    edit_manifest(two_problems)(app)
    with pytest.raises(InvalidZendeskApp) as caught:
        package_app(app, tmp_path / "dist")
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("manifest.json: author.email: missing")
    assert problems[1].startswith("manifest.json: frameworkVersion: '1.0' is not served")
    message = str(caught.value)
    assert "fix these 2 problems and package again" in message
    assert all(p in message for p in problems)
    assert not (tmp_path / "dist").exists() or list((tmp_path / "dist").iterdir()) == []


def _remove(path: str) -> Callable[[Path], None]:
    return lambda app: (app / path).unlink()


def _replace_text(path: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(app: Path) -> None:
        text = (app / path).read_text(encoding="utf-8")
        assert old in text
        (app / path).write_text(text.replace(old, new, 1), encoding="utf-8")
    return apply


def _sidebar(m: dict[str, Any]) -> dict[str, Any]:
    return m["location"]["support"]["ticket_sidebar"]


def _add_translation(name: str, data: Any) -> Callable[[Path], None]:
    return lambda app: write(app / "translations" / name, data)


# (id, how to break the app, substrings the one problem must contain: file, field, hint)
VIOLATIONS: list[tuple[str, Callable[[Path], None], list[str]]] = [
    ("manifest-missing", _remove("manifest.json"), ["manifest.json: file is missing"]),
    ("manifest-bad-json", _replace_text("manifest.json", '"defaultLocale": "en",', '"defaultLocale": "en"'),
     ["manifest.json: line 9, column 3: not valid JSON", "Expecting ',' delimiter"]),
    ("manifest-duplicate-key", _replace_text("manifest.json", '"version": "1.0.0",',
                                             '"version": "1.0.0", "version": "2.0.0",'),
     ["manifest.json: key 'version' appears twice"]),
    ("author-missing", edit_manifest(lambda m: m.pop("author")), ["manifest.json: author: missing"]),
    ("author-name-empty", edit_manifest(lambda m: m["author"].update(name=" ")), ["manifest.json: author.name"]),
    ("author-email-missing", edit_manifest(lambda m: m["author"].pop("email")), ["manifest.json: author.email"]),
    ("author-email-not-email", edit_manifest(lambda m: m["author"].update(email="support")),
     ["manifest.json: author.email", "not an email"]),
    ("author-url-not-url", edit_manifest(lambda m: m["author"].update(url="switchboard")),
     ["manifest.json: author.url", "http(s) URL"]),
    ("default-locale-missing", edit_manifest(lambda m: m.pop("defaultLocale")),
     ["manifest.json: defaultLocale: missing"]),
    ("default-locale-invalid", edit_manifest(lambda m: m.update(defaultLocale="English")),
     ["manifest.json: defaultLocale", "'English'"]),
    ("default-locale-without-translation", edit_manifest(lambda m: m.update(defaultLocale="de")),
     ["translations/de.json: file is missing", "defaultLocale is 'de'"]),
    ("location-missing", edit_manifest(lambda m: m.pop("location")), ["manifest.json: location: missing"]),
    ("location-empty", edit_manifest(lambda m: m.update(location={})), ["manifest.json: location: missing or empty"]),
    ("location-unknown-product",
     edit_manifest(lambda m: m["location"].update(helpdesk={"top_bar": "assets/iframe.html"})),
     ["manifest.json: location.helpdesk", "unknown product"]),
    ("location-unknown-name", edit_manifest(lambda m: m["location"]["support"].update(
        ticket_side_bar=m["location"]["support"].pop("ticket_sidebar"))),
     ["manifest.json: location.support.ticket_side_bar", "not a support location"]),
    ("location-url-outside-assets", edit_manifest(lambda m: _sidebar(m).update(url="iframe.html")),
     ["manifest.json: location.support.ticket_sidebar.url", "inside assets/"]),
    ("location-url-escapes-assets", edit_manifest(lambda m: _sidebar(m).update(url="assets/../manifest.json")),
     ["manifest.json: location.support.ticket_sidebar.url", "inside assets/"]),
    ("location-url-missing-file", edit_manifest(lambda m: _sidebar(m).update(url="assets/sidebar.html")),
     ["manifest.json: location.support.ticket_sidebar.url", "'assets/sidebar.html' does not exist"]),
    ("location-url-plain-http", edit_manifest(lambda m: _sidebar(m).update(url="http://example.com/app.html")),
     ["manifest.json: location.support.ticket_sidebar.url", "must use https"]),
    ("location-url-absent", edit_manifest(lambda m: _sidebar(m).pop("url")),
     ["manifest.json: location.support.ticket_sidebar.url: missing"]),
    ("location-flexible-string", edit_manifest(lambda m: _sidebar(m).update(flexible="yes")),
     ["manifest.json: location.support.ticket_sidebar.flexible", "true or false"]),
    ("framework-version-missing", edit_manifest(lambda m: m.pop("frameworkVersion")),
     ["manifest.json: frameworkVersion: missing", '"2.0"']),
    ("framework-version-number", edit_manifest(lambda m: m.update(frameworkVersion=2.0)),
     ["manifest.json: frameworkVersion: 2.0 is not served"]),
    ("version-missing", edit_manifest(lambda m: m.pop("version")), ["manifest.json: version: None"]),
    ("version-with-slash", edit_manifest(lambda m: m.update(version="1.0/../../x")), ["manifest.json: version"]),
    ("private-string", edit_manifest(lambda m: m.update(private="true")),
     ["manifest.json: private: 'true' must be true or false"]),
    ("parameters-not-list", edit_manifest(lambda m: m.update(parameters={"token": {}})),
     ["manifest.json: parameters: must be a list"]),
    ("parameter-bad-type", edit_manifest(lambda m: param(m, "backend_url").update(type="link")),
     ["manifest.json: parameters.backend_url.type: 'link' is not a parameter type"]),
    ("parameter-secure-string", edit_manifest(lambda m: param(m, "token").update(secure="true")),
     ["manifest.json: parameters.token.secure: 'true' must be true or false"]),
    ("parameter-required-string", edit_manifest(lambda m: param(m, "backend_url").update(required="yes")),
     ["manifest.json: parameters.backend_url.required"]),
    ("parameter-called-name", edit_manifest(lambda m: m["parameters"].append({"name": "name", "type": "text"})),
     ["manifest.json: parameters.name: a parameter may not be called \"name\""]),
    ("parameter-declared-twice",
     edit_manifest(lambda m: m["parameters"].append({"name": "backend_url", "type": "url"})),
     ["manifest.json: parameters.backend_url: declared twice"]),
    ("token-not-secure", edit_manifest(lambda m: param(m, "token").update(secure=False)),
     ["manifest.json: parameters.token.secure", "looks like a secret", "{{setting.token}}"]),
    ("secret-not-secure", edit_manifest(lambda m: m["parameters"].append({"name": "webhook_secret", "type": "text"})),
     ["manifest.json: parameters.webhook_secret.secure", "looks like a secret"]),
    ("api-key-multiline-not-secure", edit_manifest(lambda m: m["parameters"].append(
        {"name": "API_KEY", "type": "multiline"})),
     ["manifest.json: parameters.API_KEY.secure", "looks like a secret"]),
    ("password-not-secure", edit_manifest(lambda m: m["parameters"].append({"name": "password", "type": "password"})),
     ["manifest.json: parameters.password.secure"]),
    ("secure-default", edit_manifest(lambda m: param(m, "token").update(default="sb_123")),
     ["manifest.json: parameters.token.default", "in clear"]),
    ("hidden-required", edit_manifest(lambda m: m["parameters"].append(
        {"name": "region", "type": "hidden", "required": True})),
     ["manifest.json: parameters.region.required", "hidden"]),
    ("oauth-secure", edit_manifest(lambda m: m["parameters"].append(
        {"name": "login", "type": "oauth", "secure": True})),
     ["manifest.json: parameters.login.secure", "oauth"]),
    ("domain-whitelist-url", edit_manifest(lambda m: m.update(domainWhitelist=["https://support.example.com"])),
     ["manifest.json: domainWhitelist", "not a host name"]),
    ("translation-missing", _remove("translations/en.json"),
     ["translations/en.json: file is missing", "app"]),
    ("translation-bad-json", _replace_text("translations/en.json", '"name": "Switchboard",', '"name": "Switchboard"'),
     ["translations/en.json: line 4, column 5: not valid JSON"]),
    ("translation-app-name-missing", edit_translation(lambda d: d["app"].pop("name")),
     ["translations/en.json: app.name: missing"]),
    ("translation-app-missing", edit_translation(lambda d: d.pop("app")), ["translations/en.json: app: missing"]),
    ("translation-description-not-string", edit_translation(lambda d: d["app"].update(description=["x"])),
     ["translations/en.json: app.description: must be a string"]),
    ("translation-leaf-not-string", edit_translation(lambda d: d["ui"].update(loading=3)),
     ["translations/en.json: ui.loading: must be a string"]),
    ("translation-file-not-a-locale", _add_translation("english.json", {"app": {"name": "x"}}),
     ["translations/english.json: file name is not a locale"]),
    ("other-translation-bad-leaf", _add_translation("fr.json", {"app": {"name": "Switchboard", "n": None}}),
     ["translations/fr.json: app.n: must be a string"]),
]


@pytest.mark.parametrize(("break_app", "expected"), [pytest.param(b, e, id=i) for i, b, e in VIOLATIONS])
def test_each_rule_violation_names_its_file_and_field(
        app: Path, break_app: Callable[[Path], None], expected: list[str]) -> None:
    break_app(app)
    problems = validate_app(app)
    assert len(problems) == 1, problems
    for fragment in expected:
        assert fragment in problems[0], (fragment, problems[0])


def test_a_missing_folder_is_one_clear_problem(tmp_path: Path) -> None:
    assert validate_app(tmp_path / "nope") == [
        f"{tmp_path / 'nope'}: not a folder; point at the app folder that holds manifest.json"]


def test_secure_settings_are_only_used_through_the_proxy() -> None:
    """The token never appears in the app except as the proxy's placeholder."""
    source = (DEFAULT_APP_DIR / "assets" / "app.js").read_text(encoding="utf-8")
    assert "'Bearer {{setting.token}}'" in source
    assert "secure: true" in source
    assert "settings.token" not in source  # the app never reads the secret from metadata


def test_ui_strings_in_app_js_match_the_translation_file() -> None:
    source = (DEFAULT_APP_DIR / "assets" / "app.js").read_text(encoding="utf-8")
    block = re.search(r"/\* ui-strings:begin \*/\s*var STRINGS = (\{.*?\});\s*/\* ui-strings:end \*/",
                      source, re.DOTALL)
    assert block, "app.js lost its ui-strings:begin/end markers"
    assert json.loads(block.group(1)) == read(DEFAULT_APP_DIR / "translations" / "en.json")["ui"]


def test_every_string_key_the_app_uses_exists() -> None:
    source = (DEFAULT_APP_DIR / "assets" / "app.js").read_text(encoding="utf-8")
    ui = read(DEFAULT_APP_DIR / "translations" / "en.json")["ui"]
    used = {key for key in re.findall(r"\bt\('([a-z_]+)'", source) if not key.endswith("_")}
    wrapup = (DEFAULT_APP_DIR / "assets" / "disposition.js").read_text(encoding="utf-8")
    used |= set(re.findall(r"helpers\.t\('([a-z_]+)'", wrapup))
    assert {"disposition_saved", "disposition_confidence"} <= used
    used |= {f"{prefix}_{kind}" for prefix in ("unreachable", "not_found", "unauthorized", "not_configured",
                                               "outside_zendesk") for kind in ("title", "body")}
    used |= {f"author_{who}" for who in ("customer", "bot", "agent")}
    assert len(used) > 30
    assert sorted(used - ui.keys()) == []


def test_every_status_and_refusal_reason_of_governed_actions_has_words_for_agents() -> None:
    """The app builds these keys at run time ('status_' + status, 'reason_' + code), so
    the plain scan above cannot see them; the engine's own lists can."""
    from switchboard.core.actions.ledger import PENDING
    from switchboard.core.actions.wording import REASONS

    ui = read(DEFAULT_APP_DIR / "translations" / "en.json")["ui"]
    statuses = set(PENDING) | {"succeeded", "refused", "failed", "rejected", "expired"}
    wanted = {f"status_{s}" for s in statuses} | {f"reason_{code}" for code in REASONS} | \
        {f"risk_{risk}" for risk in ("low", "medium", "high")}
    assert sorted(wanted - ui.keys()) == []


def test_the_page_loads_only_local_files() -> None:
    """No CDN at run time: every script and stylesheet is a file inside assets/."""
    html = (DEFAULT_APP_DIR / "assets" / "iframe.html").read_text(encoding="utf-8")
    refs = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert refs == ["app.css", "vendor/zaf_sdk.min.js", "call_card.js", "disposition.js", "app.js"]
    for ref in refs:
        assert (DEFAULT_APP_DIR / "assets" / ref).is_file(), ref


def test_the_bundled_sdk_says_where_it_came_from() -> None:
    sdk = (DEFAULT_APP_DIR / "assets" / "vendor" / "zaf_sdk.min.js").read_text(encoding="utf-8")
    assert sdk.startswith("/*! zendesk_app_framework_sdk 2.0.11 from npm")
    assert "var ZAFClient=" in sdk
    assert "Apache License" in (DEFAULT_APP_DIR / "assets" / "vendor" / "LICENSE").read_text()
    assert "MIT License" in (DEFAULT_APP_DIR / "assets" / "vendor" / "LICENSE-native-promise-only").read_text()
    assert "2.0.11" in (DEFAULT_APP_DIR / "README.md").read_text()


def test_cli_packages_the_shipped_app_for_a_deployment(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from switchboard.cli import main

    result = CliRunner().invoke(main, ["zendesk", "package-app", "--out", str(tmp_path / "dist"),
                                       "--domain", "support.example.com"])
    assert result.exit_code == 0, result.output
    zip_path = Path(result.stdout.strip())
    assert zip_path.parent == tmp_path / "dist"
    assert f"created {tmp_path / 'dist'}" in result.stderr and "warning" not in result.stderr
    with zipfile.ZipFile(zip_path) as packaged:
        assert sorted(packaged.namelist()) == sorted(SHIPPED_FILES)
        assert json.loads(packaged.read("manifest.json"))["domainWhitelist"] == ["support.example.com"]


def test_cli_refuses_an_invalid_app_and_lists_its_problems(app: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from switchboard.cli import main

    (app / "assets" / "iframe.html").unlink()
    result = CliRunner().invoke(main, ["zendesk", "package-app", "--app-dir", str(app), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "cannot be packaged" in result.output and "iframe.html" in result.output
    assert list(tmp_path.glob("*.zip")) == []


def test_cli_warns_without_a_domain_and_never_creates_a_folder_tree(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from switchboard.cli import main

    missing = tmp_path / "no" / "such" / "place"
    refused = CliRunner().invoke(main, ["zendesk", "package-app", "--out", str(missing), "--domain", "a.example.com"])
    assert refused.exit_code == 1 and "does not exist" in refused.output
    assert not (tmp_path / "no").exists()
    warned = CliRunner().invoke(main, ["zendesk", "package-app", "--out", str(tmp_path)])
    assert warned.exit_code == 0 and "warning: no --domain" in warned.stderr
    assert Path(warned.stdout.strip()).exists()


def test_one_problem_is_not_problem_s() -> None:
    from switchboard.apps.zendesk.packager import InvalidZendeskApp

    problem = InvalidZendeskApp(Path("app"), ["assets/iframe.html is missing"])
    assert "fix this problem and package again" in str(problem)
    assert "fix these 2 problems" in str(InvalidZendeskApp(Path("app"), ["a", "b"]))
