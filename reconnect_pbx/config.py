"""One settings object: built-in defaults < a TOML config file < environment variables.

Loaded once at the entry point (the CLI's root group) and passed down; nothing else reads the
environment. Every key lives in a section: ``[database] url`` in the file is
``RECONNECT_DATABASE_URL`` in the environment. Unknown keys and bad values are refused at
start-up with one line naming the key; a ``RECONNECT_*`` variable that names no section
(``RECONNECT_DEMO_DIR``, ``RECONNECT_TEST_*``) is not a setting and is left alone.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from reconnect_pbx.prompts import PROMPT_SET_NAME

DEFAULT_CONFIG_PATH = Path("/etc/reconnect-pbx/reconnect-pbx.conf")
ENV_PREFIX = "RECONNECT_"
# RECONNECT_* names that look like a setting but belong to another tool: the sandbox's chroot
# path (sandbox/chroot.py) reads like asterisk.chroot, and serve once refused to start beside it.
FOREIGN_ENV_NAMES = frozenset({"RECONNECT_CONFIG", "RECONNECT_ASTERISK_CHROOT"})


class ConfigError(Exception):
    """A configuration value is missing, unknown or malformed."""


_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class DatabaseSettings:
    # The URL this process connects with: the owner's for the operator CLI (root), the serve role's
    # in serve's settings, the web role's in the web application's (docs/deploy.md, section 2).
    url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/reconnect_pbx"
    # The PostgreSQL roles `serve` and `web` log in as (or are members of). `db upgrade` (migration
    # 0007) creates them NOLOGIN if absent and grants them what they need in this database, and no
    # UPDATE or DELETE on the audit log; the web role no access to stored audio either.
    serve_role: str = "reconnect_pbx_serve"
    web_role: str = "reconnect_pbx_web"

    def __post_init__(self) -> None:
        for name in ("serve_role", "web_role"):
            if not _ROLE_NAME.fullmatch(getattr(self, name)):
                raise ConfigError(f"database.{name} must be a lower-case PostgreSQL role name, got {getattr(self, name)!r}")
        if self.serve_role == self.web_role:
            raise ConfigError("database.serve_role and database.web_role must differ")


@dataclass(frozen=True)
class AriSettings:
    url: str = "http://127.0.0.1:8088"
    username: str = "reconnect"
    password: str = ""
    app: str = "reconnect-pbx"
    # Backoff between websocket reconnection attempts, doubling up to the maximum.
    reconnect_initial_seconds: float = 0.5
    reconnect_max_seconds: float = 10.0
    request_timeout_seconds: float = 10.0
    # Send the requests that need no channel's thread (play, record, hang up...) over the event
    # websocket rather than HTTP: less CPU per request (reconnect_pbx/ari/client.py).
    rest_over_websocket: bool = True


@dataclass(frozen=True)
class MediaSettings:
    # Stored audio (greetings, names, messages) is played from files written here for the length of
    # one playback and removed right after (reconnect_pbx/media.py): a tmpfs folder that the service
    # may write and Asterisk's group may read (docs/deploy.md).
    playback_dir: str = "/srv/asterisk-root/run/reconnect-pbx-play"
    # The same folder as Asterisk sees it (Asterisk runs in a chroot); "" when it is the same path.
    asterisk_playback_dir: str = "/run/reconnect-pbx-play"


@dataclass(frozen=True)
class VoicemailSettings:
    max_message_seconds: int = 180
    max_silence_seconds: int = 10
    min_message_seconds: float = 2.0
    mailbox_capacity: int = 50
    # "std" is the real prompt set; tests use "short" (same names, a fraction of a second each).
    prompt_set: str = "std"
    # How long a caller has to press a key before a menu repeats.
    input_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class NumberSettings:
    default_region: str = "FR"
    # Regions whose numbers may be imported as personal numbers.
    allowed_regions: tuple[str, ...] = ("FR",)
    quarantine_days: int = 90


@dataclass(frozen=True)
class PinSettings:
    length: int = 6
    # The secret key (pepper) PINs are hashed with, outside the database: generated at install,
    # readable by root and the reconnect-pbx group only (reconnect_pbx/services/credentials.py).
    pepper_file: str = "/etc/reconnect-pbx/pin-pepper"

    def __post_init__(self) -> None:
        if self.length < 4:
            raise ConfigError(f"pin.length must be at least 4, got {self.length}")


@dataclass(frozen=True)
class AccessSettings:
    # The DID (any form) people call to check their messages; empty disables it.
    access_number: str = ""
    # The number of the test mailbox that `reconnect-pbx selftest` calls (E.164 or national form):
    # reserved like the access number, never a person's; empty disables the self-test.
    selftest_number: str = ""
    # How many trailing digits of the personal number a caller types at the access number.
    personal_number_digits: int = 10
    max_pin_attempts_per_call: int = 3
    # Consecutive wrong PINs (across calls) before the first lock; each further one doubles it,
    # up to lock_max_minutes. Staff are alerted at alert_after_failures; PIN login is suspended
    # (until `pin reset`) at suspend_after_failures (NIST SP 800-63B: at most 100).
    lock_after_failures: int = 5
    lock_max_minutes: int = 60
    alert_after_failures: int = 20
    suspend_after_failures: int = 100
    # The brake on guessing: past this many failed logins within brake_window_minutes from one
    # calling number, or from everybody, logins answer "try again later" without checking anything.
    brake_window_minutes: int = 10
    brake_failures_per_caller: int = 10
    brake_failures_service: int = 100
    # Longest personal greeting and name a person may record from the menus.
    max_greeting_seconds: int = 60
    max_name_seconds: int = 10


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"


@dataclass(frozen=True)
class CallbackSettings:
    """Outgoing calls (callbacks and dialled landlines): limits and the destination policy.

    The service pays for every outbound minute: these are the toll-fraud guard. See
    ``services/destination_policy.py`` (where a call may go) and ``services/outbound.py`` (limits).
    """

    # Free outgoing minutes per person and per calendar month (Europe/Paris).
    monthly_minutes: int = 120
    # Longest outgoing call, from the answer; the call is cut at that point.
    max_call_seconds: int = 1200
    # A spoken warning this long before the cut.
    warning_seconds: int = 60
    # How long the far end may ring before "no answer".
    ring_timeout_seconds: int = 30
    # Outgoing calls in progress at once, for everybody: the trunk's capacity for callbacks.
    max_simultaneous_calls: int = 10
    # Outgoing minutes for the whole service per day (Europe/Paris): a cap on what fraud can cost.
    daily_minutes_budget: int = 2000
    # This many refused destinations from one mailbox within the window suspend its outgoing calls.
    refusals_before_suspension: int = 10
    refusal_window_minutes: int = 10
    # Where outbound calls go: the PJSIP endpoint of the carrier trunk.
    trunk_endpoint: str = "trunk"
    # Asterisk's own cut (TIMEOUT(absolute)) comes this long after the application's, so that the
    # application normally ends the call cleanly, and Asterisk ends it if the application died.
    hangup_grace_seconds: int = 3
    # Destination policy. Calling back the caller of a message may reach French mobiles.
    allow_mobile_callbacks: bool = True
    # Dialled numbers (main menu) may reach French mobiles.
    allow_mobile_calls: bool = False
    # Outgoing calls may reach French overseas departments and territories (0262, 0590, 0694...).
    allow_overseas: bool = False
    # International destinations allowed, as E.164 prefixes ("+32", "+3222"); none by default.
    allowed_international_prefixes: tuple[str, ...] = ()
    # Emergency and social numbers: never called through the service; the person hears that they
    # should hang up and dial it directly from the phone in their hand (always free).
    emergency_numbers: tuple[str, ...] = (
        "15", "17", "18", "112", "114", "115", "119", "191", "196",
        "116000", "116006", "116111", "116117", "3114", "3919",
    )  # fmt: skip

    def __post_init__(self) -> None:
        for name in (
            "monthly_minutes",
            "max_call_seconds",
            "ring_timeout_seconds",
            "max_simultaneous_calls",
            "daily_minutes_budget",
            "refusals_before_suspension",
            "refusal_window_minutes",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"callback.{name} must be at least 1, got {getattr(self, name)}")
        if self.warning_seconds < 0 or self.hangup_grace_seconds < 1:
            raise ConfigError("callback.warning_seconds must be 0 or more, callback.hangup_grace_seconds 1 or more")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.trunk_endpoint):
            raise ConfigError(f"callback.trunk_endpoint must be a PJSIP endpoint name, got {self.trunk_endpoint!r}")
        for prefix in self.allowed_international_prefixes:
            if not re.fullmatch(r"\+[1-9][0-9]{0,6}", prefix):
                raise ConfigError(f"callback.allowed_international_prefixes: {prefix!r} is not like +32")
        for number in self.emergency_numbers:
            if not re.fullmatch(r"[0-9]{2,6}", number):
                raise ConfigError(f"callback.emergency_numbers: {number!r} is not a short number")


@dataclass(frozen=True)
class FollowSettings:
    """The number follows the person: calls ring their confirmed current phone first.

    The outgoing leg is an outgoing call like a callback: same trunk, limits, quota, daily budget
    and absolute timeout (``callback.*``)."""

    # How long the current phone rings (the caller hears ringback) before the greeting.
    ring_seconds: int = 20
    # Once it answers, how long the person has to press 1 to take the call.
    accept_seconds: int = 10
    # How often serve looks for confirmation and alert calls to place.
    poll_seconds: float = 5.0
    # New-message alerts (services/alerts.py): an alert waits this long after the first message,
    # gathering those that follow (three messages in five minutes: one alert).
    alert_coalesce_seconds: int = 300
    # No alert call from quiet_start_hour to quiet_end_hour, Europe/Paris (it waits).
    alert_quiet_start_hour: int = 21
    alert_quiet_end_hour: int = 8
    # An alert not answered is tried again this many times, this long apart.
    alert_retries: int = 2
    alert_retry_seconds: int = 600


MIN_RECORD_RETENTION_DAYS = 31


@dataclass(frozen=True)
class RetentionSettings:
    # Messages older than this are deleted with their audio by `purge`, whatever their state.
    message_retention_days: int = 90
    # A closed person's data is erased this long after closing; -1 means numbers.quarantine_days
    # (the number's quarantine is over: nobody can still be trying to reach them on it).
    closed_erase_after_days: int = -1
    # Call records older than this lose the caller's and the called number, for everyone (the row,
    # its times and billed seconds stay for the figures); audit events older than this are deleted.
    # At least a month: the monthly outbound limits and reports read the current month's records.
    call_record_retention_days: int = 365
    audit_retention_days: int = 365

    def __post_init__(self) -> None:
        if self.message_retention_days < 1:
            raise ConfigError(f"retention.message_retention_days must be at least 1, got {self.message_retention_days}")
        for name in ("call_record_retention_days", "audit_retention_days"):
            if getattr(self, name) < MIN_RECORD_RETENTION_DAYS:
                raise ConfigError(
                    f"retention.{name} must be at least {MIN_RECORD_RETENTION_DAYS}, got {getattr(self, name)}"
                )
        if self.closed_erase_after_days < -1:
            raise ConfigError(
                f"retention.closed_erase_after_days must be -1 (= numbers.quarantine_days) or more,"
                f" got {self.closed_erase_after_days}"
            )


@dataclass(frozen=True)
class CardSettings:
    # How the access number is printed on cards and leaflets; empty means access.access_number in
    # national form.
    access_number_display: str = ""
    # The name of the service, printed at the top of cards and leaflets.
    service_name: str = "Reconnect"


@dataclass(frozen=True)
class MetricsSettings:
    # `serve` exposes Prometheus metrics at http://listen_address:listen_port/metrics; 0 disables.
    # No authentication: keep it on loopback (or behind a firewall).
    listen_address: str = "127.0.0.1"
    listen_port: int = 9465

    def __post_init__(self) -> None:
        if not 0 <= self.listen_port <= 65535:
            raise ConfigError(f"metrics.listen_port must be 0 (off) to 65535, got {self.listen_port}")


@dataclass(frozen=True)
class AsteriskSettings:
    """How `doctor` and `prompts` reach Asterisk beyond ARI, on the host where Asterisk runs."""

    # Where Asterisk's http.conf and manager.conf are (their listening addresses); "" skips.
    config_dir: str = "/etc/asterisk"
    # The command that runs `asterisk -rx ...` (ARI does not show outbound registrations);
    # e.g. "chroot /srv/asterisk-root asterisk"; "" skips.
    cli_command: str = "asterisk"
    # Our outbound registration in pjsip.conf; "" when the carrier knows us by address.
    trunk_registration: str = "trunk"
    # Asterisk's sounds/reconnect folder, as seen from here: the prompt sets (<set>/<lang>/<name>.wav)
    # that `reconnect-pbx prompts import` writes and `prompts status` reads.
    sounds_dir: str = "/usr/share/asterisk/sounds/reconnect"


@dataclass(frozen=True)
class WebSettings:
    """The staff web application (`reconnect-pbx web`), normally behind nginx with TLS."""

    # gunicorn binds here; nginx proxies to it. Keep it on loopback.
    listen_address: str = "127.0.0.1"
    listen_port: int = 8070
    workers: int = 2
    # The address staff type in their browser: the one-time password links printed by `staff add`.
    base_url: str = "http://127.0.0.1:8070"
    # Signs session cookies and CSRF tokens: 32 random bytes in hex; `web` refuses to start without.
    secret_key: str = ""
    # Send cookies only over HTTPS (the deployment behind nginx); false only for plain-HTTP tests.
    cookie_secure: bool = True
    # How many proxies (nginx) stand before gunicorn: their X-Forwarded-For/-Proto are believed.
    trusted_proxies: int = 0
    idle_timeout_minutes: int = 30
    absolute_timeout_hours: int = 10
    password_link_hours: int = 72
    # Failed logins allowed in login_window_minutes, per typed address and per client IP address.
    login_failures_per_account: int = 5
    login_failures_per_address: int = 30
    login_window_minutes: int = 15

    def __post_init__(self) -> None:
        if not 0 <= self.listen_port <= 65535:
            raise ConfigError(f"web.listen_port must be 0-65535, got {self.listen_port}")
        if self.idle_timeout_minutes < 1 or self.absolute_timeout_hours < 1:
            raise ConfigError("web.idle_timeout_minutes and web.absolute_timeout_hours must be at least 1")


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    ari: AriSettings = field(default_factory=AriSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    voicemail: VoicemailSettings = field(default_factory=VoicemailSettings)
    numbers: NumberSettings = field(default_factory=NumberSettings)
    pin: PinSettings = field(default_factory=PinSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    callback: CallbackSettings = field(default_factory=CallbackSettings)
    follow: FollowSettings = field(default_factory=FollowSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    cards: CardSettings = field(default_factory=CardSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    asterisk: AsteriskSettings = field(default_factory=AsteriskSettings)
    web: WebSettings = field(default_factory=WebSettings)


def config_file_path(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The settings file a run reads: ``path``, else $RECONNECT_CONFIG, else the default path."""
    if path is not None:
        return path
    environ = os.environ if environ is None else environ
    return Path(environ.get("RECONNECT_CONFIG", DEFAULT_CONFIG_PATH))


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Defaults, then the file (``path`` or the default path if it exists), then the environment.

    An explicitly given path that does not exist is an error; the default path may be absent.
    """
    environ = os.environ if environ is None else environ
    explicit = path is not None or "RECONNECT_CONFIG" in environ
    path = config_file_path(path, environ)
    file_values: dict[str, Any] = {}
    if path.exists():
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    elif explicit:
        raise ConfigError(f"config file {path} does not exist")

    sections: dict[str, dict[str, Any]] = {}
    for section_name, section_values in file_values.items():
        if section_name not in _section_types():
            raise ConfigError(f"{path}: unknown section [{section_name}]")
        if not isinstance(section_values, dict):
            raise ConfigError(f"{path}: [{section_name}] must be a table")
        sections[section_name] = dict(section_values)

    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in FOREIGN_ENV_NAMES:
            continue
        if name.startswith("RECONNECT_TEST_"):
            continue  # the test suite's own variables
        split = _split_env_name(name)
        if split is None:
            continue  # not a setting's name (RECONNECT_DEMO_DIR...): another tool's variable
        section_name, key = split
        sections.setdefault(section_name, {})[key] = _EnvString(raw)

    built = {}
    for section_name, section_type in _section_types().items():
        built[section_name] = _build_section(section_name, section_type, sections.get(section_name, {}))
    settings = Settings(**built)
    check_ranges(settings)
    return settings


# -- ranges: a value outside them is refused at start-up ------------------------------------------
# Every number has a range (a test checks that none is missing). The bounds refuse the values that
# would silently turn a safeguard off (``access.lock_max_minutes = 0`` was "no lock at all") or
# make it useless (a lock of a year, a PIN of 40 digits); they leave room for the short limits the
# end-to-end tests use. Strings with a fixed set of values are in CHOICES.
RANGES: dict[str, tuple[float, float]] = {
    "web.listen_port": (1, 65535),
    "web.workers": (1, 64),
    "web.trusted_proxies": (0, 5),
    "web.idle_timeout_minutes": (1, 480),
    "web.absolute_timeout_hours": (1, 24),
    "web.password_link_hours": (1, 336),
    "web.login_failures_per_account": (1, 100),
    "web.login_failures_per_address": (1, 1000),
    "web.login_window_minutes": (1, 1440),
    "ari.reconnect_initial_seconds": (0.1, 60),
    "ari.reconnect_max_seconds": (0.5, 600),
    "ari.request_timeout_seconds": (1, 300),
    "voicemail.max_message_seconds": (10, 3600),
    "voicemail.max_silence_seconds": (1, 60),
    "voicemail.min_message_seconds": (0, 10),
    "voicemail.mailbox_capacity": (1, 1000),
    "voicemail.input_timeout_seconds": (1, 60),
    "numbers.quarantine_days": (1, 3650),
    "pin.length": (4, 12),
    "access.personal_number_digits": (4, 15),
    "access.max_pin_attempts_per_call": (1, 10),
    "access.lock_after_failures": (1, 10),
    "access.lock_max_minutes": (1, 1440),
    "access.alert_after_failures": (2, 100),
    # NIST SP 800-63B 5.2.2: no more than 100 consecutive failed attempts.
    "access.suspend_after_failures": (10, 100),
    "access.brake_window_minutes": (1, 1440),
    "access.brake_failures_per_caller": (1, 10000),
    "access.brake_failures_service": (1, 1000000),
    "access.max_greeting_seconds": (5, 600),
    "access.max_name_seconds": (2, 60),
    "callback.monthly_minutes": (1, 100000),
    "callback.max_call_seconds": (1, 14400),
    "callback.warning_seconds": (0, 600),
    "callback.ring_timeout_seconds": (1, 300),
    "callback.max_simultaneous_calls": (1, 1000),
    "callback.daily_minutes_budget": (1, 1000000),
    "callback.refusals_before_suspension": (1, 1000),
    "callback.refusal_window_minutes": (1, 1440),
    "callback.hangup_grace_seconds": (1, 60),
    "follow.ring_seconds": (5, 120),
    "follow.accept_seconds": (3, 60),
    "follow.poll_seconds": (0.2, 300),
    "follow.alert_coalesce_seconds": (0, 3600),
    "follow.alert_quiet_start_hour": (0, 23),
    "follow.alert_quiet_end_hour": (0, 23),
    "follow.alert_retries": (0, 5),
    "follow.alert_retry_seconds": (1, 86400),
    "retention.message_retention_days": (1, 3650),
    "retention.closed_erase_after_days": (-1, 3650),
    "retention.call_record_retention_days": (31, 3650),
    "retention.audit_retention_days": (31, 3650),
    "metrics.listen_port": (0, 65535),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "logging.level": ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
}


def check_ranges(settings: Settings) -> None:
    """Refuse (ConfigError, one line naming the key) a number out of its range, a string not among
    its choices, and settings whose order would disable a safeguard."""
    for key, (low, high) in RANGES.items():
        value = _value(settings, key)
        if not low <= value <= high:
            raise ConfigError(f"setting {key} = {_num(value)} is out of range: it must be from {_num(low)} to {_num(high)}")
    for key, allowed in CHOICES.items():
        value = _value(settings, key)
        if value.upper() not in allowed and value not in allowed:
            raise ConfigError(f"setting {key} = {value!r} must be one of {', '.join(allowed)}")
    # A folder of sounds/reconnect/ (std, short, or a set of the association's own voice): a name,
    # never a path; the doctor checks that every prompt is there.
    if not PROMPT_SET_NAME.fullmatch(settings.voicemail.prompt_set):
        raise ConfigError(
            f"setting voicemail.prompt_set = {settings.voicemail.prompt_set!r} must be a folder name"
            " (letters, digits, '-', '_'), e.g. std or short"
        )
    access = settings.access
    if not access.lock_after_failures < access.alert_after_failures <= access.suspend_after_failures:
        raise ConfigError(
            "settings access.lock_after_failures < access.alert_after_failures <= access.suspend_after_failures"
            f" must hold, got {access.lock_after_failures}, {access.alert_after_failures}, {access.suspend_after_failures}"
        )
    if access.brake_failures_per_caller > access.brake_failures_service:
        raise ConfigError(
            "setting access.brake_failures_per_caller must not be above access.brake_failures_service,"
            f" got {access.brake_failures_per_caller} > {access.brake_failures_service}"
        )
    if settings.callback.warning_seconds >= settings.callback.max_call_seconds:
        raise ConfigError(
            "setting callback.warning_seconds must be below callback.max_call_seconds,"
            f" got {settings.callback.warning_seconds} >= {settings.callback.max_call_seconds}"
        )


def _value(settings: Settings, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(settings, section), name)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class _EnvString(str):
    """A value from the environment: always text, converted to the field's type."""


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings)}


def _split_env_name(name: str) -> tuple[str, str] | None:
    """``RECONNECT_<SECTION>_<KEY>`` -> (section, key); None when no section is named.

    Only the names of a real section are checked: a wrong key there is refused (a typo would
    silently leave a default), any other RECONNECT_* name belongs to someone else."""
    rest = name[len(ENV_PREFIX):].lower()
    for section_name, section_type in _section_types().items():
        if rest.startswith(section_name + "_"):
            key = rest[len(section_name) + 1:]
            if key not in {f.name for f in dataclasses.fields(section_type)}:
                raise ConfigError(f"unknown environment variable {name}: no setting {section_name}.{key}")
            return section_name, key
    return None


def _build_section(section_name: str, section_type: type, values: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(section_type)
    known = {f.name for f in dataclasses.fields(section_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting {section_name}.{unknown[0]}")
    converted = {
        key: _convert(f"{section_name}.{key}", hints[key], value) for key, value in values.items()
    }
    try:
        return section_type(**converted)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{section_name}]: {exc}") from None


def _convert(key: str, wanted: Any, value: Any) -> Any:
    from_env = isinstance(value, _EnvString)
    if wanted is bool:
        if isinstance(value, bool):
            return value
        if from_env and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
    elif wanted is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_env:
            try:
                return int(value)
            except ValueError:
                pass
    elif wanted is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_env:
            try:
                return float(value)
            except ValueError:
                pass
    elif wanted is str:
        if isinstance(value, str):
            return str(value)
    elif typing.get_origin(wanted) is tuple:
        if from_env:
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
    elif isinstance(wanted, types.UnionType):
        return value
    type_name = getattr(wanted, "__name__", str(wanted))
    raise ConfigError(f"setting {key}: expected {type_name}, got {value!r}")
