"""The SMTP transport: stdlib ``smtplib`` in worker threads, with our own
PIPELINING and CHUNKING batches accounted message by message, TLS policy and
login (password or XOAUTH2).
"""
