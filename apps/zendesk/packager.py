"""Validate and package the Zendesk sidebar app (Zendesk Apps Framework v2) offline.

Why this exists: Zendesk's own check (`zcli apps:validate`) uploads the app to a live
Zendesk account, so it cannot run in CI or on a machine without one. This module
re-implements the rules of Zendesk's validator (the `zendesk_apps_support` gem) that a
hand-edited app can break, so a bad manifest fails here, with a message naming the file
and the field, instead of at upload time in an admin's browser.

Every problem is a sentence of the form ``<file>: <field>: <what is wrong>; <what to
do>``. `validate_app` collects them all (fixing one at a time is slow); `package_app`
refuses to build a zip while any remain.
"""
from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from switchboard.core.errors import SwitchboardError

#: Where the shipped app lives: this package's own folder (``apps/zendesk`` in a checkout,
#: ``switchboard/apps/zendesk`` installed; setup.py maps it), whose front-end files are package data.
DEFAULT_APP_DIR = Path(str(files("switchboard.apps.zendesk")))

#: Zendesk's parameter types (zendesk_apps_support Manifest::Parameter::TYPES, which
#: also still accepts the older "password").
PARAMETER_TYPES = ("text", "password", "checkbox", "url", "number", "multiline", "hidden", "oauth")
#: A parameter whose name looks like a secret must be secure, or Zendesk sends its
#: value to every agent's browser. Zendesk's own list is token|key|pwd|password.
SECRET_NAME = re.compile(r"token|secret|key|pwd|password", re.IGNORECASE)
#: Types whose values are free text an admin could paste a secret into.
SECRET_CAPABLE_TYPES = ("text", "password", "multiline")
#: zendesk_apps_support Translations::VALID_LOCALE.
LOCALE = re.compile(r"^[a-z]{2}(-\w{2,3})?$")
FRAMEWORK_VERSION = "2.0"
BOOLEAN_FIELDS = ("private", "signedUrls", "singleInstall", "requirementsOnly", "marketingOnly")
LOCATION_FLAGS = ("flexible", "autoLoad", "autoHide")
#: Location names Zendesk knows per product (zendesk_apps_support Location). Other
#: products (e.g. sell) are not checked by name.
KNOWN_LOCATIONS = {
    "support": ("top_bar", "nav_bar", "ticket_sidebar", "new_ticket_sidebar", "user_sidebar",
                "organization_sidebar", "background", "modal", "ticket_editor", "system_top_bar",
                "ticket_module"),
    "chat": ("chat_sidebar", "background"),
}
KNOWN_HOSTS = ("support", "chat", "sell")
#: The version becomes part of the zip's file name.
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$")
HOSTNAME = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d+)?$")
#: What goes into the zip, relative to the app folder; nothing else (no README).
PACKAGED_FOLDERS = ("assets", "translations")
#: A fixed timestamp makes the same app always give the same bytes.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


class InvalidZendeskApp(SwitchboardError):
    """The app folder breaks Zendesk's rules; `problems` lists every one found."""

    def __init__(self, app_dir: Path, problems: Sequence[str]) -> None:
        self.app_dir = app_dir
        self.problems = list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"the Zendesk app in {app_dir} cannot be packaged: fix "
            f"{'this problem' if len(self.problems) == 1 else f'these {len(self.problems)} problems'} "
            f"and package again:\n{listing}"
        )


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Zendesk refuses duplicate keys (its NoOverrideHash); json.loads would keep the last.
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _load_json(path: Path, label: str, problems: list[str], *, missing: str = "create it") -> Any:
    """The parsed file, or None after appending a problem that says where it broke."""
    if not path.is_file():
        problems.append(f"{label}: file is missing; {missing}")
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{label}: not UTF-8 text (byte {exc.start}); save it as UTF-8")
        return None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        problems.append(f"{label}: key {exc.args[0]!r} appears twice in one object; keep one")
    except json.JSONDecodeError as exc:
        problems.append(f"{label}: line {exc.lineno}, column {exc.colno}: not valid JSON "
                        f"({exc.msg}); fix the syntax there")
    return None


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def validate_app(app_dir: Path) -> list[str]:
    """Every rule violation in the app at `app_dir`; an empty list means it is valid."""
    app_dir = Path(app_dir)
    problems: list[str] = []
    if not app_dir.is_dir():
        return [f"{app_dir}: not a folder; point at the app folder that holds manifest.json"]
    manifest = _load_json(app_dir / "manifest.json", "manifest.json", problems,
                          missing="the app folder needs one (see apps/zendesk/README.md)")
    if manifest is None:
        return problems
    if not isinstance(manifest, dict):
        return problems + ["manifest.json: top level must be a JSON object ({...})"]

    problems += _check_author(manifest)
    problems += _check_scalars(manifest)
    problems += _check_locale_and_translations(app_dir, manifest)
    problems += _check_location(app_dir, manifest)
    problems += _check_parameters(manifest)
    problems += _check_domain_whitelist(manifest.get("domainWhitelist"), "manifest.json: domainWhitelist")
    return problems


def _check_author(manifest: dict[str, Any]) -> list[str]:
    author = manifest.get("author")
    if author is None:
        return ["manifest.json: author: missing; add {\"name\": ..., \"email\": ..., \"url\": ...}"]
    if not isinstance(author, dict):
        return ["manifest.json: author: must be an object with name, email and url"]
    problems = []
    if not _nonempty_str(author.get("name")):
        problems.append("manifest.json: author.name: missing or empty; name the person or company")
    email = author.get("email")
    if not isinstance(email, str) or not email.strip():
        problems.append("manifest.json: author.email: missing or empty; give the address where "
                        "users of the app can ask for support")
    elif "@" not in email:
        problems.append(f"manifest.json: author.email: {email!r} is not an email address")
    url = author.get("url")
    if url is not None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"manifest.json: author.url: {url!r} is not an http(s) URL; "
                            "use a full URL such as https://example.com/ or remove it")
    return problems


def _check_scalars(manifest: dict[str, Any]) -> list[str]:
    problems = []
    framework = manifest.get("frameworkVersion")
    if framework is None:
        problems.append(f"manifest.json: frameworkVersion: missing; set it to \"{FRAMEWORK_VERSION}\"")
    elif framework != FRAMEWORK_VERSION:
        problems.append(f"manifest.json: frameworkVersion: {framework!r} is not served; set it to "
                        f"\"{FRAMEWORK_VERSION}\" (a string)")
    version = manifest.get("version")
    if not isinstance(version, str) or not VERSION.match(version):
        problems.append(f"manifest.json: version: {version!r} is not a version string; use letters, "
                        "digits and . + _ - only, such as \"1.0.0\" (it names the package file)")
    name = manifest.get("name")
    if name is not None and not isinstance(name, str):
        problems.append("manifest.json: name: must be a string")
    for field in BOOLEAN_FIELDS:
        if field in manifest and not _is_bool(manifest[field]):
            problems.append(f"manifest.json: {field}: {manifest[field]!r} must be true or false "
                            "(a JSON boolean, not a string)")
    return problems


def _check_locale_and_translations(app_dir: Path, manifest: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    locale = manifest.get("defaultLocale")
    if locale is None:
        problems.append("manifest.json: defaultLocale: missing; set it to \"en\" and provide "
                        "translations/en.json")
    elif not isinstance(locale, str) or not LOCALE.match(locale):
        problems.append(f"manifest.json: defaultLocale: {locale!r} is not a locale such as \"en\" "
                        "or \"pt-br\"")
        locale = None

    translations = app_dir / "translations"
    if locale is not None:
        label = f"translations/{locale}.json"
        data = _load_json(translations / f"{locale}.json", label, problems,
                          missing=f"defaultLocale is {locale!r}, so create it with "
                                  "{\"app\": {\"name\": ...}}")
        if data is not None:
            problems += _check_translation(data, label, default=True)
    if translations.is_dir():
        for path in sorted(translations.glob("*.json")):
            if path.stem == locale:
                continue
            label = f"translations/{path.name}"
            if not LOCALE.match(path.stem):
                problems.append(f"{label}: file name is not a locale such as en.json or pt-br.json; "
                                "rename or remove it")
                continue
            data = _load_json(path, label, problems)
            if data is not None:
                problems += _check_translation(data, label, default=False)
    return problems


def _check_translation(data: Any, label: str, *, default: bool) -> list[str]:
    if not isinstance(data, dict):
        return [f"{label}: top level must be a JSON object ({{...}})"]
    problems = []
    app = data.get("app")
    if default:
        if not isinstance(app, dict):
            return [f"{label}: app: missing; add {{\"app\": {{\"name\": ..., \"description\": ...}}}}"]
        if not _nonempty_str(app.get("name")):
            problems.append(f"{label}: app.name: missing or empty; Zendesk shows it as the app's name")
    problems += [f"{label}: {path}: must be a string (or an object of strings)"
                 for path in _bad_translation_leaves(data, "")]
    return problems


def _bad_translation_leaves(node: Any, path: str) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _bad_translation_leaves(value, f"{path}.{key}" if path else key)
    elif not isinstance(node, str):
        yield path or "(top level)"


def _check_location(app_dir: Path, manifest: dict[str, Any]) -> list[str]:
    location = manifest.get("location")
    if not location:
        return [("manifest.json: location: missing or empty; add "
                 "{\"support\": {\"ticket_sidebar\": {\"url\": \"assets/iframe.html\"}}}")]
    if not isinstance(location, dict):
        return ["manifest.json: location: must be an object keyed by product (\"support\")"]
    problems = []
    for host, places in location.items():
        field = f"location.{host}"
        if host not in KNOWN_HOSTS:
            problems.append(f"manifest.json: {field}: unknown product {host!r}; use one of "
                            f"{', '.join(KNOWN_HOSTS)}")
            continue
        if not isinstance(places, dict) or not places:
            problems.append(f"manifest.json: {field}: must be a non-empty object of locations")
            continue
        for name, options in places.items():
            problems += _check_one_location(app_dir, host, name, options)
    return problems


def _check_one_location(app_dir: Path, host: str, name: str, options: Any) -> list[str]:
    field = f"location.{host}.{name}"
    known = KNOWN_LOCATIONS.get(host)
    if known is not None and name not in known:
        return [(f"manifest.json: {field}: {name!r} is not a {host} location; use one of "
                 f"{', '.join(known)}")]
    if isinstance(options, str):
        options = {"url": options}
    if not isinstance(options, dict):
        return [f"manifest.json: {field}: must be a URL string or an object with \"url\""]
    problems = []
    for flag in LOCATION_FLAGS:
        if flag in options and not _is_bool(options[flag]):
            problems.append(f"manifest.json: {field}.{flag}: {options[flag]!r} must be true or false")
    url = options.get("url")
    if url is None or url == "":
        if options.get("autoLoad", True) is not False:
            problems.append(f"manifest.json: {field}.url: missing; point it at the page to load, "
                            "such as \"assets/iframe.html\"")
    elif not isinstance(url, str):
        problems.append(f"manifest.json: {field}.url: must be a string")
    else:
        problem = _check_location_url(app_dir, url)
        if problem:
            problems.append(f"manifest.json: {field}.url: {problem}")
    return problems


def _check_location_url(app_dir: Path, url: str) -> str | None:
    if "{{setting." in url:
        return None  # filled in from a setting at run time, as Zendesk allows
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        if parts.scheme == "https" or parts.hostname == "localhost":
            return None
        return f"{url!r} must use https (or localhost while developing)"
    path = PurePosixPath(parts.path)
    if not parts.path.startswith("assets/") or ".." in path.parts:
        return f"{url!r} must be a path inside assets/, such as \"assets/iframe.html\""
    if not (app_dir / path).is_file():
        return f"{url!r} does not exist; add {parts.path} or fix the path"
    return None


def _check_parameters(manifest: dict[str, Any]) -> list[str]:
    parameters = manifest.get("parameters")
    if parameters is None:
        return []
    if not isinstance(parameters, list):
        return ["manifest.json: parameters: must be a list of objects"]
    problems = []
    seen: set[str] = set()
    oauth = 0
    for index, parameter in enumerate(parameters):
        if not isinstance(parameter, dict):
            problems.append(f"manifest.json: parameters[{index}]: must be an object with name and type")
            continue
        name = parameter.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"manifest.json: parameters[{index}].name: missing or empty")
            continue
        field = f"parameters.{name}"
        if name in seen:
            problems.append(f"manifest.json: {field}: declared twice; keep one")
        seen.add(name)
        if name == "name":
            problems.append(f"manifest.json: {field}: a parameter may not be called \"name\" "
                            "(Zendesk reserves it); rename it")
        kind = parameter.get("type", "text")
        if kind not in PARAMETER_TYPES:
            problems.append(f"manifest.json: {field}.type: {kind!r} is not a parameter type; use one "
                            f"of {', '.join(PARAMETER_TYPES)}")
        for flag in ("required", "secure"):
            if flag in parameter and not _is_bool(parameter[flag]):
                problems.append(f"manifest.json: {field}.{flag}: {parameter[flag]!r} must be true or "
                                "false (a JSON boolean, not a string)")
        secure = parameter.get("secure") is True
        secure_said = _is_bool(parameter.get("secure", False))  # else reported above
        if kind == "hidden" and parameter.get("required") is True:
            problems.append(f"manifest.json: {field}.required: a hidden parameter cannot be "
                            "required (no admin can fill it in); remove \"required\"")
        if kind == "oauth":
            oauth += 1
            if secure:
                problems.append(f"manifest.json: {field}.secure: an oauth parameter cannot be "
                                "secure; remove \"secure\"")
        if SECRET_NAME.search(name) and kind in SECRET_CAPABLE_TYPES and secure_said and not secure:
            problems.append(f"manifest.json: {field}.secure: {name!r} looks like a secret but is "
                            "not secure, so Zendesk would send it to every agent's browser; set "
                            "\"secure\": true and use it only as {{setting." + name + "}} in "
                            "client.request({secure: true})")
        if secure and "default" in parameter:
            problems.append(f"manifest.json: {field}.default: a secure parameter must not have a "
                            "default (it would ship in the package in clear); remove it")
    if oauth > 1:
        problems.append("manifest.json: parameters: more than one oauth parameter; keep one")
    return problems


def _check_domain_whitelist(domains: Any, label: str) -> list[str]:
    if domains is None:
        return []
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        return [f"{label}: must be a list of host names (strings)"]
    return [f"{label}: {domain!r} is not a host name; list hosts such as support.example.com, "
            "without https:// or a path" for domain in domains if not HOSTNAME.match(domain)]


def package_app(app_dir: Path, out_dir: Path, *, domains: Sequence[str] = ()) -> Path:
    """Validate the app and write ``switchboard-zendesk-app-<version>.zip`` into `out_dir`.

    The zip holds manifest.json, assets/ and translations/ at its root and nothing
    else (no README, no dotfiles), the layout Zendesk's upload expects. `domains`, when
    given, becomes the manifest's ``domainWhitelist`` in the zip: Zendesk documents it
    as the list of hosts a secure setting (the API key) may be sent to, and the host of
    a self-hosted Switchboard is only known at deployment. Raises `InvalidZendeskApp`
    listing every problem when the app (or a domain) is invalid.
    """
    app_dir = Path(app_dir)
    problems = validate_app(app_dir)
    problems += _check_domain_whitelist(list(domains), "domains to allow")
    if problems:
        raise InvalidZendeskApp(app_dir, problems)

    manifest = json.loads((app_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest_bytes = (app_dir / "manifest.json").read_bytes()
    if domains:
        listed = manifest.get("domainWhitelist") or []
        manifest["domainWhitelist"] = sorted(set(listed) | set(domains))
        manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"switchboard-zendesk-app-{manifest['version']}.zip"
    partial = target.with_name(target.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            _add(archive, "manifest.json", manifest_bytes)
            for relative in packaged_files(app_dir):
                _add(archive, relative, (app_dir / relative).read_bytes())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)  # never leave a half-written zip under the real name
    return target


def packaged_files(app_dir: Path) -> list[str]:
    """The files under assets/ and translations/ that go into the zip, sorted, POSIX paths.

    Dotfiles and anything inside a dot-folder (editor swap files, .DS_Store, .git) are
    left out: Zendesk would serve them to every agent.
    """
    found = []
    for folder in PACKAGED_FOLDERS:
        root = app_dir / folder
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            relative = path.relative_to(app_dir)
            if path.is_file() and not any(part.startswith(".") for part in relative.parts):
                found.append(relative.as_posix())
    return sorted(found)


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)
