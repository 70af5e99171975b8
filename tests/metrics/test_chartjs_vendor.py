"""The bundled Chart.js is the npm package the lockfile pins (version and integrity
hash), and the dashboard loads it from our static files, never from a CDN."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "switchboard" / "static" / "vendor" / "chartjs" / "chart.umd.js"


def test_the_bundled_file_is_the_version_the_lockfile_pins() -> None:
    declared = json.loads((ROOT / "package.json").read_text())["dependencies"]["chart.js"]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/chart.js"]
    header = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", BUNDLED.read_text()[:300])
    assert header is not None, "chart.umd.js lost its version banner: copy dist/chart.umd.min.js again"
    assert declared == locked["version"] == header.group(1)  # an exact pin, no range
    assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", locked["integrity"])
    assert (BUNDLED.parent / "LICENSE.md").read_text().startswith("The MIT License")
    assert "npm run vendor" in (BUNDLED.parent / "README.md").read_text()


def test_the_dashboard_loads_scripts_only_from_its_own_static_files() -> None:
    template = (ROOT / "switchboard" / "templates" / "dashboard.html").read_text()
    sources = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", template)
    assert sources and all(src.startswith("{{ url_for('static'") for src in sources)
    assert "vendor/chartjs/chart.umd.js" in template and "//cdn" not in template
