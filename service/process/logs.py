"""JSON log lines on stderr, with every known secret and secret-shaped string redacted."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any, ClassVar

from adapters.redaction import REDACTED, redact

# Fields whose token-shaped values are not secrets: the one-time page link (spent on first use,
# never an API token). Known secrets are still removed from them.
PUBLIC_FIELDS = frozenset({"login_url"})

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class Redactor:
    """Removes secrets from text. Holds the exact secrets the daemon knows, plus patterns."""

    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._secrets: frozenset[str] = frozenset()

    def add(self, secret: str | None) -> None:
        """Remember a secret so that it is redacted wherever it appears."""
        if secret and len(secret) >= 6:
            with self._lock:
                self._secrets = self._secrets | {secret}

    def known(self, text: str) -> str:
        """Remove only the exact secrets the daemon knows (for fields that are meant to carry
        a token-shaped value that is not a secret, like the one-time page link)."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def __call__(self, text: str) -> str:
        text = self.known(text)
        return redact(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor
        self._stamp = (-1, "")

    def _second(self, second: int) -> str:
        """`second` as ISO 8601 UTC to the second, formatted once a second."""
        if self._stamp[0] != second:
            self._stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return self._stamp[1]

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": f"{self._second(int(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self._redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRS or key.startswith("_") or key == "color_message":
                continue
            if key in PUBLIC_FIELDS:
                entry[key] = self._redact.known(str(value))
            elif isinstance(value, str):
                entry[key] = self._redact(value)
            elif value is None or isinstance(value, int | float):  # bool is an int
                entry[key] = value
            else:
                entry[key] = json.loads(self._redact(json.dumps(value, default=str)))
        if record.exc_info:
            entry["exc"] = self._redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One line per record for a person at a terminal: time, level, message, then the fields
    as key=value; secrets redacted exactly as in the JSON lines."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._json = JsonFormatter(redactor)

    def format(self, record: logging.LogRecord) -> str:
        entry = json.loads(self._json.format(record))
        when = entry.pop("ts")[11:19]
        level = entry.pop("level")
        entry.pop("logger")
        message = entry.pop("msg")
        trace = entry.pop("exc", None)
        fields = " ".join(f"{key}={_plain(value)}" for key, value in entry.items())
        line = f"{when} {level:<7} {message}" + (f"  {fields}" if fields else "")
        return line + (f"\n{trace}" if trace else "")


def _plain(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return json.dumps(text, ensure_ascii=False) if " " in text else text


def use_text(log_format: str, stream: Any = None) -> bool:
    """Whether logs are for a person: `text`, or `auto` with stderr a terminal."""
    if log_format != "auto":
        return log_format == "text"
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def configure_logging(level: str, redactor: Redactor, log_format: str = "json") -> None:
    """Send every log record, uvicorn's included, to stderr, redacted: JSON lines, or text
    lines for a person (`text`, or `auto` at a terminal)."""
    # Where each call was made from, and its thread and process, are never written (the
    # formatters leave them out): not looking them up is the logging HOWTO's optimisation
    # (measured: about a tenth of the access line written for every request).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    text = use_text(log_format)
    handler.setFormatter(TextFormatter(redactor) if text else JsonFormatter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # uvicorn's access log prints raw paths (query strings included); the daemon logs its own.
    logging.getLogger("uvicorn.access").disabled = True
    # SDK and HTTP-client loggers print request options, headers included, at DEBUG.
    for name in ("anthropic", "openai", "httpx", "httpx2", "httpcore", "httpcore2"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
