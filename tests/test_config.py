"""Issue 11 items 4-6 and 9: one configuration for every command (flag > environment > file >
default, each value with its source), credentials for a KE behind an authenticating reverse proxy
(sent, never shown nor logged), logs apart from results, and settings checked when they are made."""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from dso_saref.app.seed import SP001
from dso_saref.backend import Storage
from dso_saref.cli import main
from dso_saref.config import DEFAULT_KE_URL, KEYS, Config, ConfigError, load_config
from dso_saref.ke import EmulatorServer, KnowledgeEngineClient
from dso_saref.ke.credentials import Credentials
from dso_saref.ke.errors import KnowledgeEngineError
from dso_saref.terms import Settings, SettingsError
from tests.conftest import ROOT
from tests.support.reference_dso import reference_dso_on_standin

TOKEN = "s3cr3t-t0ken-that-must-never-show"
PASSWORD = "pa55-word-that-must-never-show"
API_KEY = "api-key-that-must-never-show"
SECRETS = (TOKEN, PASSWORD, API_KEY, base64.b64encode(f"dso:{PASSWORD}".encode()).decode())


def invoke(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), env=env, input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- precedence and sources ---------------------------------------------------------------------------


def test_flag_beats_environment_beats_file_beats_default(tmp_path: Path) -> None:
    file = write(tmp_path / "dso.toml", 'db = "file.sqlite"\ntimezone = "Europe/Lisbon"\nbase = "https://f.example/id/"\n'
                                       'kb_id = "https://f.example/kb"\n')
    env = {"DSO_SAREF_DB": "env.sqlite", "DSO_SAREF_TIMEZONE": "Europe/Paris"}
    config = load_config(file, env=env, flags={"db": "flag.sqlite", "base": None})
    assert (config.db, config.timezone, config.base, config.kb_id, config.ke_url) == (
        "flag.sqlite", "Europe/Paris", "https://f.example/id/", "https://f.example/kb", DEFAULT_KE_URL)
    assert config.sources == {"db": "flag --db", "timezone": "env DSO_SAREF_TIMEZONE", "base": f"file {file}",
                              "kb_id": f"file {file}"}
    assert config.source("ke_url") == "default" and config.file == file


def test_every_key_has_an_environment_variable_and_a_field() -> None:
    assert {key.env for key in KEYS} >= {"DSO_SAREF_KE_URL", "DSO_SAREF_DB", "DSO_SAREF_BASE", "DSO_SAREF_TIMEZONE",
                                         "DSO_SAREF_KB_ID", "DSO_SAREF_LOG_LEVEL", "DSO_SAREF_KE_TOKEN"}
    fields = set(Config.__dataclass_fields__) - {"sources", "file"}
    assert fields == {key.name for key in KEYS}
    assert Config() == load_config(env={"XDG_CONFIG_HOME": "/nonexistent"})


def test_the_file_is_found_by_flag_variable_or_user_config_dir(tmp_path: Path) -> None:
    write(tmp_path / "xdg" / "dso-saref" / "config.toml", 'db = "home.sqlite"\n')
    named = write(tmp_path / "named.toml", 'db = "named.sqlite"\n')
    xdg = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert load_config(env=xdg).db == "home.sqlite"
    assert load_config(env={**xdg, "DSO_SAREF_CONFIG": str(named)}).db == "named.sqlite"
    assert load_config(named, env=xdg).sources["db"] == f"file {named}"
    assert load_config(env={"HOME": str(tmp_path / "nobody")}).db is None  # no file: the defaults
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.toml", env=xdg)


def test_empty_variables_count_as_unset() -> None:
    config = load_config(env={"DSO_SAREF_DB": "", "DSO_SAREF_LOG_LEVEL": "", "XDG_CONFIG_HOME": "/nonexistent"})
    assert config.db is None and config.log_level == "INFO" and not config.sources


@pytest.mark.parametrize(("text", "env", "expected"), [
    ('ke_urll = "http://x/rest"\n', {}, "unknown key 'ke_urll' (did you mean ke_url?)"),
    ("db = \n", {}, "not valid TOML"),
    ("max_size = true\n", {}, "max_size must be a size such as 256MiB"),
    ("", {"DSO_SAREF_TIMEZONE": "Europe/Lisbonn"}, "env DSO_SAREF_TIMEZONE: timezone unknown time zone "
                                                   "'Europe/Lisbonn' (did you mean Europe/Lisbon?)"),
    ("", {"DSO_SAREF_KE_URL": "http://user:pw@ke.example/rest"}, "must not carry credentials"),
    ("", {"DSO_SAREF_LOG_LEVEL": "chatty"}, "log_level must be one of DEBUG"),
    ("", {"DSO_SAREF_KB_ID": "kb"}, "kb_id must be an http(s) IRI"),
    ("", {"DSO_SAREF_KE_HEADERS": "X-Api-Key: 1"}, "ke_headers must be a JSON object"),
    ("", {"DSO_SAREF_KE_TOKEN": "t", "DSO_SAREF_KE_USERNAME": "u", "DSO_SAREF_KE_PASSWORD": "p"}, "give one of"),
    ("", {"DSO_SAREF_KE_USERNAME": "u"}, "needs both a username and a password"),
    ('[ke_headers]\n"Bad Header" = "1"\n', {}, "is not an HTTP header name"),
    ('[ke_headers]\nX-Injected = "1\\r\\nHost: evil"\n', {}, "must be one line of text"),
])
def test_bad_values_are_refused_naming_key_and_source(tmp_path: Path, text: str, env: dict[str, str],
                                                      expected: str) -> None:
    file = write(tmp_path / "dso.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(file, env=env)
    assert expected in str(info.value)
    result = invoke("config", "show", "--config", str(file), env=env)
    assert result.exit_code == 2 and expected in result.output


# -- config show --------------------------------------------------------------------------------------


def test_config_show_prints_effective_values_and_their_sources_with_secrets_masked(tmp_path: Path) -> None:
    file = write(tmp_path / "dso.toml",
                 f'ke_url = "https://ke.example.org/rest"\n[ke_headers]\nX-Api-Key = "{API_KEY}"\n')
    env = {"DSO_SAREF_KE_TOKEN": TOKEN, "DSO_SAREF_DB": "dso.sqlite"}
    text = invoke("config", "show", "--config", str(file), env=env)
    assert text.exit_code == 0
    lines = {line.split()[0]: line.split(None, 2)[1:] for line in text.stdout.splitlines()}
    assert lines["ke_url"] == ["https://ke.example.org/rest", f"file {file}"]
    assert lines["ke_token"] == ["********", "env DSO_SAREF_KE_TOKEN"]
    assert lines["db"] == ["dso.sqlite", "env DSO_SAREF_DB"]
    assert lines["timezone"] == ["UTC", "default"]
    shown = invoke("config", "show", "--config", str(file), "--format", "json", env=env)
    keys = json.loads(shown.stdout)["keys"]
    assert keys["ke_headers"] == {"value": "X-Api-Key: ********", "source": f"file {file}"}
    assert json.loads(shown.stdout)["file"] == str(file)
    for secret in SECRETS:
        assert secret not in text.output + shown.output
    config = load_config(file, env=env)
    assert not any(secret in repr(config) or secret in repr(config.credentials()) for secret in SECRETS)


def test_commands_read_base_and_timezone_from_the_configuration(tmp_path: Path) -> None:
    file = write(tmp_path / "dso.toml", 'base = "https://grid.example.org/id/"\ntimezone = "Europe/Lisbon"\n')
    payload = json.dumps({"Voltage_Monitoring": [{"Hems_ID": "H1", "timestamp": "2021-07-01 12:00",
                                                  "Voltage_from_Hems": 240, "Voltage_from_Hems_unit": "volts"}]})
    result = invoke("saref", "hems-voltage", "-", "--format", "nt", "--config", str(file), stdin=payload)
    assert result.exit_code == 0, result.output
    assert "<https://grid.example.org/id/hems/H1>" in result.stdout
    assert '"2021-07-01T11:00:00Z"' in result.stdout  # Lisbon is UTC+1 in summer
    flag = invoke("saref", "hems-voltage", "-", "--format", "nt", "--config", str(file), "--timezone", "UTC",
                  stdin=payload)
    assert '"2021-07-01T12:00:00Z"' in flag.stdout


def test_a_required_value_missing_everywhere_is_a_usage_error() -> None:
    result = invoke("consent", "list")
    assert result.exit_code == 2 and "missing --db (or DSO_SAREF_DB, or db in" in result.output


def test_the_database_may_come_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "dso.sqlite"
    with Storage(str(db)):
        pass
    result = invoke("consent", "list", "--format", "json", env={"DSO_SAREF_DB": str(db)})
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    absent = invoke("consent", "list", env={"DSO_SAREF_DB": str(tmp_path / "absent.sqlite")})
    assert absent.exit_code == 2 and "does not exist" in absent.output


# -- settings checked when made (item 9) -----------------------------------------------------------------


def test_settings_refuse_an_unknown_time_zone_when_made() -> None:
    with pytest.raises(SettingsError, match=r"unknown time zone 'Europe/Lisbonn' \(did you mean Europe/Lisbon\?\)"):
        Settings(timezone="Europe/Lisbonn")  # type: ignore[arg-type]
    with pytest.raises(SettingsError) as info:
        Settings.of(base="urn:x")
    assert info.value.field == "base"
    assert str(Settings.of(timezone="Europe/Lisbon").timezone) == "Europe/Lisbon"
    assert Settings(timezone="UTC") == Settings()  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="IANA name"):
        Settings(timezone=3)  # type: ignore[arg-type]
    result = invoke("saref", "hems-voltage", "-", "--timezone", "Europe/Lisbonn", stdin="{}")
    assert result.exit_code == 2 and "did you mean Europe/Lisbon?" in result.output


# -- credentials for a KE behind a reverse proxy (item 6) -----------------------------------------------


class _Proxy(BaseHTTPRequestHandler):
    """A reverse proxy that lets a request through to the KE only with the expected Authorization."""

    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        self.server.seen.append(dict(self.headers))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization") != self.server.expected or self.headers.get("X-Api-Key") != API_KEY:
            self._reply(401, b'"authentication required"', "application/json")
            return
        keep = {k: v for k, v in self.headers.items()
                if k.lower() in ("content-type", "accept", "knowledge-base-id", "knowledge-interaction-id")}
        request = urllib.request.Request(self.server.target + self.path, data=body or None, method=self.command,
                                         headers=keep)
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                self._reply(reply.status, reply.read(), reply.headers.get("Content-Type"))
        except urllib.error.HTTPError as exc:
            self._reply(exc.code, exc.read(), exc.headers.get("Content-Type"))

    def _reply(self, status: int, data: bytes, content_type: str | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type or "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _forward


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, target: str, expected: str) -> None:
        super().__init__(("127.0.0.1", 0), _Proxy)
        self.target = target
        self.expected = expected
        self.seen: list[dict[str, str]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/rest"


@pytest.fixture(scope="module")
def standin() -> Iterator[EmulatorServer]:
    """The KE stand-in with the seeded reference DSO answering on it directly."""
    with reference_dso_on_standin() as server:
        yield server


@pytest.fixture
def proxy(standin: EmulatorServer) -> Iterator[_ProxyServer]:
    server = _ProxyServer(standin.root_url, f"Bearer {TOKEN}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_credentials_go_on_every_request_and_are_refused_when_malformed(proxy: _ProxyServer) -> None:
    proxy.expected = "Basic " + base64.b64encode(f"dso:{PASSWORD}".encode()).decode()
    credentials = Credentials(headers={"X-Api-Key": API_KEY}, username="dso", password=PASSWORD)
    with KnowledgeEngineClient(proxy.base_url, credentials=credentials) as client:
        assert client.version()
        assert client.list_knowledge_bases()
    assert len(proxy.seen) == 2 and all(h["Authorization"] == proxy.expected for h in proxy.seen)
    with KnowledgeEngineClient(proxy.base_url) as anonymous, pytest.raises(KnowledgeEngineError) as info:
        anonymous.version()
    assert "401" in str(info.value)
    assert not any(secret in repr(credentials) + str(credentials) for secret in SECRETS)
    for bad in ({"headers": {"X-A": "1\nHost: evil"}}, {"headers": {"Accept": "x"}}, {"token": ""},
                {"token": "t", "headers": {"Authorization": "x"}}, {"username": "a:b", "password": "p"}):
        with pytest.raises(ValueError):
            Credentials(**bad)  # type: ignore[arg-type]


def test_ke_send_uses_the_configured_url_and_credentials_and_never_shows_them(
        proxy: _ProxyServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    file = write(tmp_path / "dso.toml", f'ke_url = "{proxy.base_url}"\n[ke_headers]\nX-Api-Key = "{API_KEY}"\n')
    request = tmp_path / "request.json"
    request.write_text('{"start": "2021-09-27T00:00:00Z", "end": "2021-09-28T00:00:00Z"}', encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    sent = invoke("ke", "send", "flexibility-needs-request", str(request), "--role", "service-provider", "--kb-id",
                  SP001, "--config", str(file), env={"DSO_SAREF_KE_TOKEN": TOKEN})
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.stdout)["answers"] == {"https://dso.example.org/kb": []}
    assert proxy.seen and all(h["Authorization"] == f"Bearer {TOKEN}" for h in proxy.seen)
    refused = invoke("ke", "send", "flexibility-needs-request", str(request), "--role", "service-provider",
                     "--config", str(file), env={"DSO_SAREF_KE_TOKEN": "wrong-" + TOKEN})
    assert refused.exit_code == 1 and "401" in refused.output
    registered = invoke("ke", "register", "--role", "third-party", "--config", str(file),
                        env={"DSO_SAREF_KE_TOKEN": TOKEN})
    assert registered.exit_code == 0 and registered.stdout.strip()
    for secret in SECRETS:
        assert secret not in sent.output + refused.output + registered.output + caplog.text


@pytest.mark.slow
def test_serve_logs_to_its_log_file_at_its_level_results_to_stdout_and_never_a_secret(
        proxy: _ProxyServer, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    env = {**os.environ, "DSO_SAREF_KE_TOKEN": TOKEN, "DSO_SAREF_KE_HEADERS": json.dumps({"X-Api-Key": API_KEY}),
           "DSO_SAREF_KE_URL": proxy.base_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "dso_saref.cli", "serve", "--db", str(tmp_path / "dso.sqlite"), "--kb-id",
         "https://dso-2.example.org/kb", "--log-level", "DEBUG", "--log-file", str(log)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert "serving the DSO as https://dso-2.example.org/kb" in ready, ready
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped after 0 exchanges" in out
    text = log.read_text(encoding="utf-8")
    assert "dso_saref.app.serve" not in err and "configuration:" not in err, "logs go to the log file only"
    assert "ke_token=******** (env DSO_SAREF_KE_TOKEN)" in text and "INFO dso_saref.app.serve" in text
    assert any(h.get("Authorization") == f"Bearer {TOKEN}" for h in proxy.seen)
    for secret in SECRETS:
        assert secret not in text + out + err


def test_long_running_commands_take_log_options() -> None:
    for command in (["serve"], ["ke", "emulate"], ["demo"], ["ingest", "metering"]):
        help_text = invoke(*command, "--help").output
        assert "--log-level" in help_text and "--log-file" in help_text and "--config" in help_text, command


def test_reading_the_configuration_loads_no_http_library_without_credentials() -> None:
    code = ("import sys, dso_saref.config as c; c.load_config(env={'XDG_CONFIG_HOME': '/nonexistent'}); "
            "print('requests' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "False"
