"""The engine: drains the store's queue through a transport. The dispatcher
is given its sending key's limits (``adaptsend.limits._key_limits``) and
runs connection workers in a trio nursery; the judge turns each attempt into
rows and the message's next state; the recorder writes them in batches; the
tally counts what a run did.

May import config, limits, store (its API), transports (their contract)
and plugins (to call observers). Not classify: what a reply means is the
transport's word, or the default the agent hands over. Never the CLI.
"""
