"""The documented way to keep the webhook's URL out of the config file works:
each example names a variable that the configuration's own
``ADAPTSEND_<SECTION>_<KEY>`` overrides leave alone, and loads without a
warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adaptsend import load_config

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "docs/alerts.md", "plugins/webhook/README.md")


def webhook_examples(document: str) -> list[str]:
    text = (ROOT / document).read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.DOTALL)
    return [block for block in blocks if "url_env" in block]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_documented_webhook_example_loads_without_a_warning(
    document: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    [example] = webhook_examples(document)
    [variable] = re.findall(r'url_env = "([^"]+)"', example)
    path = tmp_path / "adaptsend.toml"
    path.write_text(example)

    config = load_config(path, environ={variable: "https://hooks.example.com/T0/B0/x"})

    assert not variable.startswith("ADAPTSEND_")
    assert config.plugin["webhook"]["url_env"] == variable
    assert caplog.messages == []
