"""The supervisor dashboard in a real headless Chromium, served by the real app over
HTTP: sign-in with an account key, charts drawn from the figures, filters, and one
account never seeing another's figures or audit trail; and a newcomer's first look
after a few playground conversations. The screenshots are kept in artifacts/
(dashboard.png, dashboard-day-one.png, dashboard-sign-in.png)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait
from werkzeug.serving import make_server

from switchboard.app import create_app
from switchboard.cli.serve import ensure_sample_kb
from switchboard.core import accounts
from switchboard.core.settings import load_settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account
from switchboard.intake.db import get_db

from ..apps.browser import WAIT_SECONDS, start_chromium
from ..conftest import base_env
from .seed import DAY, seed_history

pytestmark = pytest.mark.slow  # drives Chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    browser = start_chromium(tmp_path_factory.mktemp("chromium-profile"),
                             tmp_path_factory.mktemp("chromedriver") / "chromedriver.log")
    browser.set_window_size(1300, 2200)
    yield browser
    browser.quit()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The app on a loopback port with two accounts: the default one with the seeded
    history, and "globex" with nothing but one audit entry of its own."""
    app: Flask = create_app(load_settings(base_env(tmp_path, f"sqlite:///{tmp_path / 'sb.db'}")),
                            config={"TASKS_INLINE": True, "TESTING": True})
    with get_db(app).session() as session:
        acme = session.get(Account, app.config["DEFAULT_ACCOUNT_ID"])
        assert acme is not None
        seed_history(session, acme)
        globex = Account(slug="globex", name="Globex")
        session.add(globex)
        session.flush()
        audit(session, account_id=acme.id, actor="bot", action="handoff.created", subject_type="conversation",
              subject_id=2)
        audit(session, account_id=globex.id, actor="admin", action="globex.only", subject_type="account",
              subject_id=globex.id)
        session.commit()
        keys = {"acme": accounts.create_api_key(session, acme, "dashboard"),
                "globex": accounts.create_api_key(session, globex, "dashboard")}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", keys
    server.shutdown()
    get_db(app).dispose()


def sign_in(driver: WebDriver, base: str, key: str) -> None:
    driver.delete_all_cookies()
    driver.get(base + "/dashboard")
    assert driver.current_url.endswith("/dashboard/login")  # no cookie: sent to sign in
    driver.find_element(By.ID, "key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "filters"))


def chart_data(driver: WebDriver, name: str) -> list[list[float | None]]:
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: d.execute_script("return !!(window.switchboardCharts && window.switchboardCharts[arguments[0]])",
                                   name))
    return driver.execute_script(
        "return Chart.getChart(document.getElementById('chart-' + arguments[0]))"
        ".data.datasets.map(function (d) { return d.data; });", name)


def set_dates(driver: WebDriver, start: date, end: date) -> None:
    """Fill the date inputs (their typing format follows the browser's locale, a value
    does not) and apply the filters."""
    driver.execute_script("document.getElementById('from').value = arguments[0];"
                          "document.getElementById('to').value = arguments[1];", start.isoformat(), end.isoformat())
    driver.find_element(By.ID, "apply").click()


def card(driver: WebDriver, name: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f"#card-{name} .value").text


def test_dashboard_renders_charts_filters_and_keeps_accounts_apart(driver: WebDriver, served) -> None:  # type: ignore[no-untyped-def]
    base, keys = served
    sign_in(driver, base, keys["acme"])
    today = datetime.now(UTC).date()
    driver.get(f"{base}/dashboard?from={DAY.isoformat()}&to={today.isoformat()}")
    assert card(driver, "conversations") == "4"
    assert card(driver, "containment") == "25.0%" and card(driver, "escalation") == "50.0%"
    volume = chart_data(driver, "volume")
    quiet_days = (today - DAY).days
    # Conversations per day: all four on the seeded day, and the quiet days after it
    # drawn as zero, not left out.
    assert volume[0] == [4] + [0] * quiet_days
    assert volume[1] == [25] + [None] * quiet_days  # containment, in percent; none without conversations
    assert len(chart_data(driver, "rates")[0]) == quiet_days + 1
    # Times: the cards and the chart by one rule. The largest time charted (resolution,
    # (10 + 1000 + 4000) / 3 s) is minutes, so the chart is in minutes, axis labelled,
    # and first response reads the same on its card and on the chart.
    assert card(driver, "first-response") == "20.2 min"  # (10 + 20 + 3605) / 3 s
    times = chart_data(driver, "times")
    assert round(times[0][0], 1) == 20.2 and round(times[2][0], 1) == 27.8
    assert driver.execute_script("return Chart.getChart(document.getElementById('chart-times'))"
                                 ".options.scales.y.title.text") == "minutes"
    reasons = chart_data(driver, "reasons")
    assert sorted(reasons[0]) == [1, 1]
    automation = chart_data(driver, "automation")
    assert sum(automation[0]) == 4
    assert "low confidence" in driver.find_element(By.ID, "reasons").text
    assert "handoff.created" in driver.find_element(By.ID, "audit").text
    assert "globex.only" not in driver.find_element(By.ID, "audit").text
    ARTIFACTS.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / "dashboard.png"))

    Select(driver.find_element(By.ID, "channel")).select_by_value("whatsapp")
    driver.find_element(By.ID, "apply").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: "channel=whatsapp" in d.current_url)
    assert card(driver, "conversations") == "1" and card(driver, "escalation") == "100.0%"
    assert chart_data(driver, "automation")[0] == [1]  # human only
    Select(driver.find_element(By.ID, "channel")).select_by_value("")
    Select(driver.find_element(By.ID, "tier")).select_by_value("vip")
    driver.find_element(By.ID, "apply").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: "tier=vip" in d.current_url)
    assert card(driver, "conversations") == "1" and "5.0" in card(driver, "csat")

    Select(driver.find_element(By.ID, "tier")).select_by_value("")
    Select(driver.find_element(By.ID, "intent")).select_by_value("refund")
    driver.find_element(By.ID, "apply").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: "intent=refund" in d.current_url)
    assert card(driver, "conversations") == "1" and card(driver, "escalation") == "100.0%"
    assert chart_data(driver, "automation")[0] == [1]  # AI then human: the bot asked first
    assert "Automation: AI then human" in driver.find_element(By.ID, "segments").text
    Select(driver.find_element(By.ID, "intent")).select_by_value("")

    # The date range: the day after the seeded one onwards holds nothing; the seeded
    # day alone holds everything, as one point.
    set_dates(driver, DAY + timedelta(days=1), today)
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: f"from={(DAY + timedelta(days=1)).isoformat()}" in d.current_url)
    assert card(driver, "conversations") == "0"
    assert chart_data(driver, "volume")[0] == [0] * quiet_days
    set_dates(driver, DAY, DAY)
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: f"to={DAY.isoformat()}" in d.current_url)
    assert card(driver, "conversations") == "4" and chart_data(driver, "volume")[0] == [4]
    set_dates(driver, DAY, DAY - timedelta(days=1))  # ends before it starts
    alert = WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_element(By.CSS_SELECTOR, "[role=alert]"))
    assert "swap" in alert.text

    # Another account's key: none of the first account's figures or audit trail.
    sign_in(driver, base, keys["globex"])
    driver.get(f"{base}/dashboard?from={DAY.isoformat()}&to={today.isoformat()}")
    assert card(driver, "conversations") == "0"
    audit_text = driver.find_element(By.ID, "audit").text
    assert "globex.only" in audit_text and "handoff.created" not in audit_text
    assert Select(driver.find_element(By.ID, "channel")).options[0].text == "All"
    assert len(Select(driver.find_element(By.ID, "channel")).options) == 1  # no channels of the other account


def test_a_wrong_key_is_refused_and_a_forged_cookie_ignored(driver: WebDriver, served) -> None:  # type: ignore[no-untyped-def]
    base, _ = served
    driver.delete_all_cookies()
    driver.get(base + "/dashboard/login")
    driver.find_element(By.ID, "key").send_keys("sb_not_a_real_key")
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    alert = WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_element(By.CSS_SELECTOR, "[role=alert]"))
    assert "not valid" in alert.text
    driver.add_cookie({"name": "switchboard_dashboard", "value": "eyJhY2NvdW50IjoxfQ.forged.sig"})
    driver.get(base + "/dashboard")
    assert driver.current_url.endswith("/dashboard/login")


def serve(app: Flask) -> tuple[str, Callable[[], None]]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server.shutdown


@pytest.fixture
def first_hour(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """What `switchboard serve` gives a newcomer: an empty database with the sample
    knowledge base, and the default account's key in .switchboard-api-key beside it."""
    app: Flask = create_app(load_settings(base_env(tmp_path, f"sqlite:///{tmp_path / 'switchboard.db'}")),
                            config={"TASKS_INLINE": True})
    ensure_sample_kb(app)
    with get_db(app).session() as session:
        default = session.get(Account, app.config["DEFAULT_ACCOUNT_ID"])
        assert default is not None
        key_file = tmp_path / ".switchboard-api-key"
        key_file.write_text(accounts.create_api_key(session, default, "serve") + "\n")
    base, stop = serve(app)
    yield base, key_file
    stop()
    get_db(app).dispose()


def test_a_newcomers_dashboard_after_a_few_playground_conversations(driver: WebDriver, first_hour) -> None:  # type: ignore[no-untyped-def]
    base, key_file = first_hour
    for phone, text in (("+15550100001", "how long does delivery take?"), ("+15550100002", "where is my order?"),
                        ("+15550100003", "I want to talk to a person"), ("+15550100004", "blah")):
        assert requests.post(f"{base}/playground/messages", json={"text": text, "phone": phone},
                             timeout=WAIT_SECONDS).status_code == 200

    driver.delete_all_cookies()
    driver.get(base + "/dashboard")
    help_text = WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_element(By.ID, "key-help")).text
    assert str(key_file) in help_text and "switchboard serve" in help_text
    ARTIFACTS.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / "dashboard-sign-in.png"))
    driver.find_element(By.ID, "key").send_keys(key_file.read_text().strip())
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "filters"))

    today = datetime.now(UTC).date()
    # A week, today's conversations in the last slot; not 30 days of mostly nothing.
    assert driver.find_element(By.ID, "from").get_attribute("value") == (today - timedelta(days=6)).isoformat()
    assert chart_data(driver, "volume")[0] == [0] * 6 + [4]
    assert card(driver, "conversations") == "4"
    # Nothing is resolved yet: the bot's answer is a minute old, the handoff unanswered.
    assert driver.find_element(By.CSS_SELECTOR, "#card-resolution .sub").text == "0 of 4 resolved"
    # Seconds-long averages are shown, and charted, in seconds.
    first_response = card(driver, "first-response")
    assert first_response.endswith(" s")
    times = chart_data(driver, "times")
    assert f"{times[0][-1]:.1f} s" == first_response or f"{times[0][-1]:.0f} s" == first_response
    assert driver.execute_script("return Chart.getChart(document.getElementById('chart-times'))"
                                 ".options.scales.y.title.text") == "seconds"
    # Who handled what: the bot alone (an answer, a menu, a question), and one customer
    # waiting for a person nobody has been.
    labels = driver.execute_script("return Chart.getChart(document.getElementById('chart-automation')).data.labels")
    counts = chart_data(driver, "automation")[0]
    assert dict(zip(labels, counts, strict=True)) == {"AI only": 3, "Waiting for a person": 1}
    assert "Human only" not in driver.find_element(By.ID, "segments").text
    # No ratings yet: said in words, not shown as an empty chart.
    assert "No ratings in this period" in driver.find_element(By.ID, "empty-csat").text
    assert not driver.find_elements(By.ID, "chart-csat")
    assert driver.save_screenshot(str(ARTIFACTS / "dashboard-day-one.png"))
