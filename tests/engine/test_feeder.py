"""The feeder claims a page when the buffer runs low, and stops claiming once
the queue has nothing more due."""

from __future__ import annotations

from typing import Any

from adaptsend import Agent
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.messages import batch


async def test_a_queue_that_ran_dry_is_not_claimed_again_for_every_message_taken(
    make_config: MakeConfig,
) -> None:
    claims: list[int] = []
    with ThrottlingSMTPServer(latency_s=0.01) as server:
        config = make_config(
            server,
            limiter={"initial_cap": 4, "min_cap": 4, "max_cap": 4},
            run={"page_size": 50},
        )
        with Agent(config, plugins=load_plugins(environ={})) as agent:
            agent.enqueue(compose(m) for m in batch(200))
            claim = agent.store.claim

            def counted_claim(**kwargs: Any) -> Any:
                claimed = claim(**kwargs)
                claims.append(len(claimed))
                return claimed

            agent.store.claim = counted_claim  # type: ignore[method-assign]
            report = await agent.run()

        assert set(server.deliveries.values()) == {1}
    assert report.sent == 200
    assert sum(claims) == 200
    # Once a claim has come back short, the feeder claims again only with
    # its buffer empty (when the last message is taken, and at most once
    # for each of the last four sends' outcomes), not each time a message
    # is taken: that was 20 to 30 empty claims here.
    assert claims.count(0) <= 6, claims
