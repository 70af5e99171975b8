"""What a campaign asks for, parsed from JSON (API) or built by a trigger.

Parsing fails loudly on a wrong shape, naming the field, so a typo in a criterion
never silently widens the audience to every customer.
"""
from __future__ import annotations

import csv
import io
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from switchboard.core.outreach.errors import InvalidCampaign

TOP_LEVEL = {"name", "criteria", "segment_by", "template", "templates", "detail", "whatsapp", "start_at"}
CRITERIA = {"tier", "locale", "attributes", "phones", "csv", "all"}
MAX_TEMPLATE = 1200


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    criteria: dict[str, Any]
    segment_by: str | None = None
    template: str | None = None
    templates: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    whatsapp: dict[str, Any] = field(default_factory=dict)
    start_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "criteria": self.criteria, "segment_by": self.segment_by,
                                "template": self.template, "templates": self.templates, "detail": self.detail,
                                "whatsapp": self.whatsapp}
        if self.start_at is not None:
            data["start_at"] = self.start_at.isoformat()
        return data


def parse(data: Any) -> CampaignSpec:
    """Validate a campaign request; raises InvalidCampaign naming the bad field."""
    if not isinstance(data, dict):
        raise InvalidCampaign("expected a JSON object describing the campaign")
    unknown = sorted(set(data) - TOP_LEVEL)
    if unknown:
        raise InvalidCampaign(f"unknown field(s) {', '.join(unknown)}: use {', '.join(sorted(TOP_LEVEL))}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidCampaign("name: give the campaign a name (1-200 characters)")
    criteria = _criteria(data.get("criteria"))
    segment_by = data.get("segment_by")
    if segment_by is not None and (not isinstance(segment_by, str) or not segment_by.isidentifier()):
        raise InvalidCampaign("segment_by: use tier, locale or a customer attribute name (e.g. region)")
    template = data.get("template")
    if template is not None:
        check_template(template, "template")
    templates = data.get("templates") or {}
    if not isinstance(templates, dict):
        raise InvalidCampaign("templates: expected an object of segment value -> template text")
    for key, text in templates.items():
        check_template(text, f"templates.{key}")
    detail = data.get("detail") or ""
    if not isinstance(detail, str) or len(detail) > 500:
        raise InvalidCampaign("detail: expected text of at most 500 characters")
    return CampaignSpec(name=name.strip(), criteria=criteria, segment_by=segment_by, template=template,
                        templates={str(k): v for k, v in templates.items()}, detail=detail,
                        whatsapp=_whatsapp(data.get("whatsapp")), start_at=_start_at(data.get("start_at")))


def from_json(data: dict[str, Any]) -> CampaignSpec:
    """A spec stored on a campaign row (already validated when it was created)."""
    start = data.get("start_at")
    return CampaignSpec(name=data["name"], criteria=data["criteria"], segment_by=data.get("segment_by"),
                        template=data.get("template"), templates=data.get("templates") or {},
                        detail=data.get("detail") or "", whatsapp=data.get("whatsapp") or {},
                        start_at=datetime.fromisoformat(start) if start else None)


def check_template(text: Any, name: str) -> str:
    """Templates use {placeholders} (first_name, name, detail, company or any customer
    attribute); anything str.format would choke on is refused here, not at send time."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEMPLATE:
        raise InvalidCampaign(f"{name}: expected text of 1-{MAX_TEMPLATE} characters")
    try:
        for _literal, field_name, spec, conversion in string.Formatter().parse(text):
            if field_name is None:
                continue
            if not field_name.isidentifier() or spec or conversion:
                raise InvalidCampaign(f"{name}: placeholder {{{field_name}}} with {spec or conversion or 'indexing'!r} "
                                      "is not a plain name like {first_name} or {order_id}")
    except ValueError as exc:
        raise InvalidCampaign(f"{name}: {exc} (write a literal brace as {{{{ or }}}})") from None
    return text


def _criteria(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw:
        raise InvalidCampaign("criteria: say who to reach, e.g. {\"attributes\": {\"region\": \"north\"}}, "
                              "{\"tier\": [\"gold\"]}, {\"phones\": [...]}, {\"csv\": \"phone,name\\n...\"} "
                              "or {\"all\": true}")
    unknown = sorted(set(raw) - CRITERIA)
    if unknown:
        raise InvalidCampaign(f"criteria: unknown key(s) {', '.join(unknown)}: use {', '.join(sorted(CRITERIA))}")
    out: dict[str, Any] = {}
    for key in ("tier", "locale"):
        if key in raw:
            out[key] = _strings(raw[key], f"criteria.{key}")
    if "attributes" in raw:
        if not isinstance(raw["attributes"], dict) or not raw["attributes"]:
            raise InvalidCampaign("criteria.attributes: expected an object like {\"region\": \"north\"}")
        out["attributes"] = {str(k): _strings(v, f"criteria.attributes.{k}") for k, v in raw["attributes"].items()}
    if "phones" in raw:
        out["phones"] = _strings(raw["phones"], "criteria.phones")
    if "csv" in raw:
        out["rows"] = _csv_rows(raw["csv"])
    if raw.get("all") is True:
        out["all"] = True
    elif "all" in raw:
        raise InvalidCampaign("criteria.all: only true is meaningful (every customer with a phone number)")
    return out


def _strings(value: Any, name: str) -> list[str]:
    values = [value] if isinstance(value, str | int) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str | int) for v in values):
        raise InvalidCampaign(f"{name}: expected a value or a non-empty list of values")
    return [str(v) for v in values]


def _csv_rows(text: Any) -> list[dict[str, str]]:
    """An explicit list as CSV with a ``phone`` column; other columns (name, order_id…)
    become customer attributes the template can use."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidCampaign("criteria.csv: expected CSV text with a header row including 'phone'")
    reader = csv.DictReader(io.StringIO(text.strip()))
    if not reader.fieldnames or "phone" not in [f.strip().lower() for f in reader.fieldnames]:
        raise InvalidCampaign("criteria.csv: the header row must include a 'phone' column")
    rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]
    if not rows:
        raise InvalidCampaign("criteria.csv: no rows under the header")
    return rows


def _whatsapp(raw: Any) -> dict[str, Any]:
    if raw is None or raw == {}:
        return {}
    if not isinstance(raw, dict):
        raise InvalidCampaign("whatsapp: expected {\"content_sid\": \"HX…\", \"variables\": {\"1\": \"{first_name}\"}}")
    sid = raw.get("content_sid")
    if not (isinstance(sid, str) and sid.startswith("HX") and len(sid) == 34):
        raise InvalidCampaign("whatsapp.content_sid: expected an approved Content SID (34 characters starting "
                              "with HX, from Twilio Console → Content Template Builder)")
    variables = raw.get("variables") or {}
    if not isinstance(variables, dict):
        raise InvalidCampaign("whatsapp.variables: expected an object like {\"1\": \"{first_name}\"}")
    for key, text in variables.items():
        check_template(text, f"whatsapp.variables.{key}")
    return {"content_sid": sid, "variables": {str(k): v for k, v in variables.items()}}


def _start_at(raw: Any) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidCampaign(f"start_at: {raw!r} is not an ISO 8601 time like 2026-11-23T09:00:00Z") from None
    if value.tzinfo is None:
        raise InvalidCampaign("start_at: give a time zone (e.g. a trailing Z for UTC)")
    return value.astimezone(UTC)
