"""The names of the SMTP transport's own verdicts.

The transport judges most replies with its reply classifier (``classify``),
whose rules have names of their own. Where it knows more than the reply
says, it gives the outcome itself and one of these names, which the
attempt's record keeps (docs/replies.md lists them). They are stable: people
search logs and reports for them.
"""

from __future__ import annotations

#: The whole content was written and no final reply came (outcome ``unknown``).
NO_FINAL_REPLY = "no-final-reply"
#: A check before the first byte found the message cannot go on this
#: connection: an unsafe address, SMTPUTF8 missing, too large (``permanent``).
REFUSED_BEFORE_SENDING = "refused-before-sending"
#: The server or the token provider cannot do what the configuration asks:
#: no STARTTLS, no AUTH, no token (``fatal``).
CONFIGURATION = "configuration"

#: Every name above, for the docs' test.
ALL = (NO_FINAL_REPLY, REFUSED_BEFORE_SENDING, CONFIGURATION)
