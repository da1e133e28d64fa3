"""``adaptsend report``: the incident view of one period, built from the
store (messages by status, attempts over time, the cap's moves, failures by
reply, slow and waiting messages, pauses) and shown in a terminal, as one
self-contained HTML file with inline SVG charts, or as JSON.

May import config and the store (its incident queries).
"""
