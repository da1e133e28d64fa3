"""Prometheus metrics of an agent: a registry of its own, per-message counts
kept in plain dictionaries, gauges read from the running dispatchers when
scraped, the queue's depth sampled from the store, and ``/metrics`` served
while a run lasts.

May import config, alerts (the alert type it counts) and the store.
"""
