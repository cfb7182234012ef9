"""PII redaction: emails, phone numbers, card numbers and known names become placeholders.

Run it: ``python snippets/step7_deployment/privacy.py "text"`` prints the redacted text. The
service redacts every prompt before it is logged, and before the model with --redact-input.
"""

# --8<-- [start:imports]
import re
import sys

from guide.world import NAMES, SURNAMES

# --8<-- [end:imports]

# --8<-- [start:redact]
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
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


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit('usage: python snippets/step7_deployment/privacy.py "text to redact"')
    print(redact(sys.argv[1]))
