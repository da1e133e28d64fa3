"""Configuration: the TOML file, ``ADAPTSEND_<SECTION>_<KEY>`` overrides, the
sections as attrs classes, and the secrets they hold (which are kept out of
every log, row and alert).

May import only the shared vocabulary (``_models``, ``_errors``).
"""
