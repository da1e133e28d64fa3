"""One file per schema revision, oldest first by number."""
