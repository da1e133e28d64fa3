"""What one judged attempt tells the run: the limiter, the message rate,
the day's recipients, the pauses, and whether the run must stop."""

from __future__ import annotations

from adaptsend._models import ClaimedMessage, Outcome
from adaptsend.engine._judge import Judgement
from adaptsend.engine._worker_host import WorkerHost
from adaptsend.limits._local import Slot
from adaptsend.transports._contract import SendResult


def heed(
    host: WorkerHost,
    slot: Slot,
    message: ClaimedMessage,
    result: SendResult,
    judgement: Judgement,
    *,
    rate_epoch: int,
) -> None:
    """Tell the run's limits what ``judgement`` of ``message`` means."""
    signal = judgement.signal
    if host.recipients is not None:
        host.recipients.settle(message, result, signal)
    if result.retry_after_s is not None:
        host.retry_after.pause(result.retry_after_s, judgement.reply or result.reply)
    if signal is Outcome.THROTTLED:
        host.limiter.record_throttle(slot, pause_s=result.retry_after_s or 0.0)
    elif signal is Outcome.RATE:
        host.rate.record_rate(rate_epoch)
    elif signal is Outcome.SENT:
        host.limiter.record_success(slot)
        host.rate.record_delivery(rate_epoch)
    elif signal is Outcome.FATAL:
        # The judged reply, secrets hidden: it is printed as "stopped: ...".
        host.stop(fatal=judgement.reply or host.judge.clean(result.reply))
    if signal is Outcome.QUOTA:
        host.quota_reached(judgement.reply or host.judge.clean(result.reply))
    else:
        host.outage.answered()
