"""Step 7: PII redaction catches the planted kinds and leaves ordinary text alone."""

from step7_deployment.privacy import luhn_ok, redact


def test_each_kind_is_replaced():
    text = "Mara Lane (mara.lane@example.com, +44 20 7946 0958) paid with 4111 1111 1111 1111."
    assert redact(text) == "[NAME] [NAME] ([EMAIL], [PHONE]) paid with [CARD]."


def test_ordinary_text_is_untouched():
    text = "On Monday, the diners brought flowers to say thank you."
    assert redact(text) == text


def test_luhn_tells_cards_from_other_numbers():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_the_command_line_redacts(example, tmp_path):
    proc = example("step7_deployment/privacy.py", "write to a.b@c.io", cwd=tmp_path)
    assert proc.stdout.strip() == "write to [EMAIL]"
