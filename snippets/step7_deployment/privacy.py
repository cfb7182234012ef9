"""PII redaction: emails, phone numbers, card numbers and known names become placeholders.

Run it: ``python snippets/step7_deployment/privacy.py "text"`` prints the redacted text. The
service redacts every prompt before it is logged, and before the model with --redact-input.
"""

# --8<-- [start:imports]
import contextlib
import json
import logging
import re
import sys

from guide.world import NAMES, SURNAMES

# --8<-- [end:imports]

# --8<-- [start:redact]
# Every pattern takes time linear in the length of the text, whatever the text. A match may
# start only where a run of its characters starts (the look-behind), and every repeat has a
# bound (an address's parts have the lengths RFC 5321 allows), so no starting point is scanned
# to the end of the text again. An unbounded `[\w.+-]+@` is scanned from each of n starting
# points over up to n characters: n² steps, over a second for a 20 KB body.
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}(?![\w-])")
CARD = re.compile(r"(?<!\d)(?:\d[ ./_-]?){12,18}\d(?!\d)")  # 13 to 19 digits, any common separator
PHONE = re.compile(r"(?<!\w)(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,3}(?!\w)")


def luhn_ok(digits):
    """Card numbers carry a Luhn check digit; it tells a card from any long number."""
    total, parity = 0, len(digits) % 2
    for i, d in enumerate(int(c) for c in digits):
        if i % 2 == parity:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def known_names():
    return sorted({*NAMES["she"], *NAMES["he"], *SURNAMES}, key=len, reverse=True)


NAME = re.compile(r"\b(?:%s)\b" % "|".join(known_names()))  # noqa: UP031


def redact(text):
    """The text with personal data replaced: [EMAIL], [CARD], [PHONE], [NAME]."""
    text = EMAIL.sub("[EMAIL]", text)
    text = CARD.sub(lambda m: "[CARD]" if luhn_ok(re.sub(r"\D", "", m.group())) else m.group(), text)
    text = PHONE.sub("[PHONE]", text)
    return NAME.sub("[NAME]", text)
    # --8<-- [end:redact]


# --8<-- [start:formatter]
MAX_LOGGED = 2000  # characters of a message (and of a traceback) that reach the log


class RedactingFormatter(logging.Formatter):
    """Every log record as one JSON object on one line, whichever library wrote it (the
    service, uvicorn, Strawberry): the message and any traceback cut to MAX_LOGGED characters,
    then redacted. JSON escapes newlines and quotes (and, ASCII-only, every other line
    separator), so nothing a client sends can start a line of its own: a forged
    ``{"event": "request", ...}`` stays inside the "message" string."""

    def format(self, record):
        message, own = record.getMessage(), None
        if record.name == "guide.service":  # the service's own lines are JSON, redacted already
            with contextlib.suppress(ValueError):
                own = json.loads(message)
        if isinstance(own, dict):
            entry = own
        else:
            entry = {"logger": record.name, "level": record.levelname, "message": redact(message[:MAX_LOGGED])}
        if record.exc_info:
            entry["traceback"] = redact(self.formatException(record.exc_info)[-MAX_LOGGED:])
        return json.dumps(entry)

    # --8<-- [end:formatter]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit('usage: python snippets/step7_deployment/privacy.py "text to redact"')
    print(redact(sys.argv[1]))
