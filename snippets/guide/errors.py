"""The one exception the guide's code raises for a problem the user can fix.

Library code raises it with a message that says what to do; only a command's ``main()`` turns
it into an exit status and one clear line (``guide.cli.command``). A server catches it and says
why on its health route, a notebook shows it, a test asserts on it: none of them has to catch
``SystemExit``.
"""


class GuideError(Exception):
    """Something the reader can fix: a missing model, a bad flag's value, a corpus too small.
    The message names the problem and the command or change that fixes it."""
