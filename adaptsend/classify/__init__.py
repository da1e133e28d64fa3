"""What an SMTP reply (or a local error) means: the classifier, its rules and
the rules that name one provider's limits.

May import the shared vocabulary and config.
"""
