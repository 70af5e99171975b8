"""Two hosts, one database: each `switchboard serve` has its own data directory (its own
disk), yet a knowledge-base import or an intent fit or revert made on one is what the
other uses at once, without a restart. Also the settings every host must share: the
session key and the /metrics token."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, select

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Message

from ..conftest import TWILIO_TOKEN, _truncate_postgres, base_env
from ..signing import fixture
from ..test_queue_with_celery import free_port, wait_until

pytestmark = pytest.mark.slow  # starts processes that stand for other hosts

#: How long a host may take to answer /healthz: it loads its models first, and two hosts
#: starting at once beside the rest of the suite have taken over a minute on two cores.
READY_SECONDS = 180
NEW_ARTICLE = {"id": "llama-rides", "title": "Can I ride a llama at the farm?",
               "body": "Llama rides are offered on Saturdays between 10:00 and 12:00 for riders under 40 kg.",
               "url": "https://help.acme.example/articles/llama-rides"}


class Host:
    """`switchboard serve` with a data directory of its own, as a second machine would have."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        data_dir.mkdir()
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {**os.environ, **env, "SWITCHBOARD_DATA_DIR": str(data_dir),
                    "SWITCHBOARD_PUBLIC_URL": f"http://127.0.0.1:{self.port}"}
        self.log = data_dir / "serve.log"
        self.process = subprocess.Popen([sys.executable, "-m", "switchboard.cli", "serve", "--port", str(self.port)],
                                        env=self.env, cwd=data_dir, stdout=self.log.open("w"),
                                        stderr=subprocess.STDOUT)
        assert wait_until(self._healthy, timeout=READY_SECONDS), self.log.read_text()[-3000:]

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "switchboard.cli", *args], env=self.env, cwd=self.data_dir,
                              input=stdin, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def sms(self, sid: str, body: str) -> None:
        from twilio.request_validator import RequestValidator

        url = f"http://127.0.0.1:{self.port}/webhooks/twilio/messages"
        params = {**fixture("twilio", "inbound_sms.json"), "MessageSid": sid, "SmsSid": sid, "Body": body,
                  "From": "+14155550177"}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(),
                                         headers={"X-Twilio-Signature": signature})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


@pytest.fixture
def two_hosts(tmp_path: Path, pg_url: str) -> Iterator[tuple[Host, Host, str]]:
    _truncate_postgres(pg_url)
    env = base_env(tmp_path, pg_url)
    first = Host(env, tmp_path / "host-a")
    second = Host(env, tmp_path / "host-b")
    try:
        yield first, second, pg_url
    finally:
        first.stop()
        second.stop()


def _messages(pg_url: str, sid: str) -> tuple[Message | None, Message | None]:
    """The inbound message with Twilio id ``sid`` and the bot's reply to it, if any."""
    from sqlalchemy.orm import Session

    engine = create_engine(pg_url)
    try:
        with Session(engine) as session:
            inbound = session.scalar(select(Message).where(Message.external_id == sid))
            if inbound is None:
                return None, None
            replies = session.scalars(select(Message).where(Message.conversation_id == inbound.conversation_id,
                                                            Message.author == "bot")).all()
            return inbound, next((m for m in replies if (m.meta or {}).get("in_reply_to") == inbound.id), None)
    finally:
        engine.dispose()


def _reply_to(pg_url: str, sid: str) -> Message | None:
    return _messages(pg_url, sid)[1]


def _inbound(pg_url: str, sid: str) -> Message | None:
    return _messages(pg_url, sid)[0]


def test_an_import_an_intent_fit_and_a_revert_on_one_host_are_used_by_the_other_at_once(
        two_hosts: tuple[Host, Host, str], tmp_path: Path) -> None:
    first, second, pg_url = two_hosts
    # The second host answers (and so loads the sample knowledge base's index) first.
    second.sms("SM" + "1" * 32, "How long does delivery take?")
    assert wait_until(lambda: _reply_to(pg_url, "SM" + "1" * 32) is not None, timeout=60), second.log.read_text()
    before = _reply_to(pg_url, "SM" + "1" * 32)
    assert before is not None and "delivery-times" in json.dumps(before.meta["sources"])

    kb_file = tmp_path / "more.json"
    kb_file.write_text(json.dumps({"articles": [NEW_ARTICLE]}))
    first.cli("kb", "import", str(kb_file))
    second.sms("SM" + "2" * 32, "Can I ride a llama at the farm on Saturday?")
    assert wait_until(lambda: _reply_to(pg_url, "SM" + "2" * 32) is not None, timeout=60), second.log.read_text()
    after = _reply_to(pg_url, "SM" + "2" * 32)
    assert after is not None and "llama-rides" in json.dumps(after.meta["sources"]), after.body
    assert not (second.data_dir / "index").exists() or any((second.data_dir / "index").rglob("*.json"))

    training = "text,category\n" + "".join(  # added to the shipped examples
        f"{line},llama_rides\n" for line in (
            "can my kid ride a llama", "llama ride booking", "are llama rides on today", "how heavy for a llama ride",
            "I want to ride the llamas", "llama rides on saturday?", "price of a llama ride", "llama ride age limit"))
    (tmp_path / "intents.csv").write_text(training)
    first.cli("intents", "fit", str(tmp_path / "intents.csv"))
    predicted = [json.loads(line) for line in second.cli(
        "intents", "predict", stdin="can my daughter ride a llama\nhi\n").splitlines()]
    assert [p["intent"] for p in predicted] == ["llama_rides", "greeting"]
    second.sms("SM" + "3" * 32, "can my son ride one of the llamas")
    assert wait_until(lambda: _enrichment(pg_url, "SM" + "3" * 32) is not None, timeout=60), second.log.read_text()
    assert (_enrichment(pg_url, "SM" + "3" * 32) or {})["intent"] == "llama_rides"
    assert not (second.data_dir / "models").exists() or list((second.data_dir / "models").rglob("*.skops"))

    first.cli("intents", "revert")  # back to the shipped default, which knows no llamas
    second.sms("SM" + "4" * 32, "can my son ride one of the llamas")
    assert wait_until(lambda: _enrichment(pg_url, "SM" + "4" * 32) is not None, timeout=60), second.log.read_text()
    assert (_enrichment(pg_url, "SM" + "4" * 32) or {})["intent"] != "llama_rides"


def _enrichment(pg_url: str, sid: str) -> dict[str, object] | None:
    inbound = _inbound(pg_url, sid)
    return None if inbound is None else (inbound.meta or {}).get("enrichment")


def _app(tmp_path: Path, **extra: str) -> Flask:
    env = {**base_env(tmp_path, f"sqlite:///{tmp_path / 'one.db'}"), **extra}
    return create_app(load_settings(env), config={"TESTING": True})


def test_metrics_ask_for_the_bearer_token_when_one_is_set(tmp_path: Path) -> None:
    client = _app(tmp_path, SWITCHBOARD_METRICS_TOKEN="scrape-me-please").test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    assert answer.status_code == 200 and b"switchboard_" in answer.data
    (tmp_path / "open").mkdir()
    assert _app(tmp_path / "open").test_client().get("/metrics").status_code == 200  # no token: open, as before


def test_dashboard_sessions_signed_on_one_host_are_valid_on_another(tmp_path: Path) -> None:
    from switchboard.apps.sign_in import app_secret

    key = "k" * 40
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = _app(tmp_path / "a", SWITCHBOARD_SECRET_KEY=key)
    two = _app(tmp_path / "b", SWITCHBOARD_SECRET_KEY=key)
    assert app_secret(one) == app_secret(two) == key
    assert not (tmp_path / "a" / ".switchboard-session-secret").exists()
    with pytest.raises(Exception, match="SWITCHBOARD_SECRET_KEY"):
        load_settings({**base_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"), "SWITCHBOARD_SECRET_KEY": "short"})
