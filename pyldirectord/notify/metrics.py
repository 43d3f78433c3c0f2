"""Prometheus metrics of a running director (``/metrics``; docs/observability.md).

Two kinds, so that the director's hot path only ever increments a counter:

* events counted as they happen (``Metrics`` is an ``observer.Observer``): checks, failures
  and their latency per check type, real transitions, IPVS operations applied and refused;
* values read only when Prometheus scrapes (``LiveValues``): each real's state and weight
  (from the same snapshot as the state file), the scheduler's lag, overload and inconclusive
  results, and the mails the alerter sent and dropped (counters it keeps anyway).

Each director has its own registry: nothing goes to prometheus_client's global one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pyldirectord.core.observer import Transition
from pyldirectord.notify.statefile import DirectorState

PREFIX = "pyldirectord"
# Check latency buckets (seconds): a healthy loopback check takes ~1 ms, a LAN one a few ms,
# and a timeout is checktimeout (default 5 s; negotiate 30 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)  # fmt: skip
STATES = ("up", "down", "unknown")


@dataclass(frozen=True, slots=True)
class LiveValues:
    """What a scrape reads from the director, taken in the event loop in one go, so that the
    rendering (O(reals)) can run in a worker thread without touching the director."""

    state: DirectorState
    lag: float
    overloaded: bool
    inconclusive: int
    checks_ended: int
    mails_sent: int | None  # None: no mailer
    mails_dropped: int | None


class _CheckSeries:
    """The children of one check label, looked up once (``labels()`` takes a lock each time)."""

    def __init__(self, metrics: Metrics, label: str) -> None:
        self.checks = metrics.checks.labels(label)
        self.failures = metrics.failures.labels(label)
        self.latency = metrics.latency.labels(label)


class Metrics:
    """The event counters (an ``observer.Observer``) and the registry ``/metrics`` renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.checks = Counter(f"{PREFIX}_checks", "Checks completed, by check type",
                              ["check"], registry=r)  # fmt: skip
        self.failures = Counter(f"{PREFIX}_check_failures", "Checks that failed, by check type",
                                ["check"], registry=r)  # fmt: skip
        self.latency = Histogram(f"{PREFIX}_check_duration_seconds",
                                 "How long each check took, by check type", ["check"],
                                 buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.transitions = Counter(f"{PREFIX}_real_transitions",
                                   "Health state changes of a real (to: the new state)",
                                   ["virtual", "real", "to"], registry=r)  # fmt: skip
        self.ipvs = Counter(f"{PREFIX}_ipvs_operations",
                            "IPVS operations the kernel applied or refused", ["result"],
                            registry=r)  # fmt: skip
        self._applied = self.ipvs.labels("applied")
        self._refused = self.ipvs.labels("refused")
        self._series: dict[str, _CheckSeries] = {}
        self.generation = 0  # transitions so far: a cached snapshot older than one is stale

    def checked(self, check: str, ok: bool, elapsed: float) -> None:
        series = self._series.get(check)
        if series is None:
            series = self._series[check] = _CheckSeries(self, check)
        series.checks.inc()
        series.latency.observe(elapsed)
        if not ok:
            series.failures.inc()

    def transition(self, transition: Transition) -> None:
        self.generation += 1
        self.transitions.labels(transition.virtual, transition.real, transition.new).inc()

    def applied(self, applied: int, refused: int) -> None:
        if applied:
            self._applied.inc(applied)
        if refused:
            self._refused.inc(refused)

    def render(self, live: LiveValues) -> bytes:
        """The exposition text: the event counters and ``live``; safe in a worker thread."""
        return generate_latest(_Scrape(self.registry, live))


class _Scrape(Collector):
    """One scrape: the event counters' registry and the live values, as one collector."""

    def __init__(self, registry: CollectorRegistry, live: LiveValues) -> None:
        self._registry = registry
        self._live = live

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()
        yield from real_families(self._live.state)
        yield from scheduler_families(self._live)
        yield from mail_families(self._live)


def real_families(state: DirectorState) -> Iterator[Metric]:
    labels = ["virtual", "real"]
    up = GaugeMetricFamily(f"{PREFIX}_real_up", "1 when the real's checks say it is up",
                           labels=labels)  # fmt: skip
    weight = GaugeMetricFamily(f"{PREFIX}_real_weight",
                               "The real's weight in the IPVS table (0: quiescent or absent)",
                               labels=labels)  # fmt: skip
    states = GaugeMetricFamily(f"{PREFIX}_real_state", "1 for the real's current state",
                               labels=[*labels, "state"])  # fmt: skip
    latency = GaugeMetricFamily(f"{PREFIX}_real_check_duration_seconds",
                                "How long the real's last check took", labels=labels)  # fmt: skip
    for virtual in state.virtuals:
        for real in virtual.reals:
            where = [virtual.virtual, real.real]
            up.add_metric(where, 1.0 if real.state == "up" else 0.0)
            weight.add_metric(where, float(real.weight))
            for name in STATES:
                states.add_metric([*where, name], 1.0 if real.state == name else 0.0)
            if real.latency is not None:
                latency.add_metric(where, real.latency)
    yield from (up, weight, states, latency)


def scheduler_families(live: LiveValues) -> Iterator[Metric]:
    yield GaugeMetricFamily(f"{PREFIX}_scheduler_lag_seconds",
                            "Worst lateness of the event loop over the last 10 s",
                            value=live.lag)  # fmt: skip
    yield GaugeMetricFamily(f"{PREFIX}_overloaded",
                            "1 while checks fall behind their interval (last states kept)",
                            value=1.0 if live.overloaded else 0.0)  # fmt: skip
    yield CounterMetricFamily(f"{PREFIX}_checks_inconclusive",
                              "Failed checks discarded because the director itself was late",
                              value=live.inconclusive)  # fmt: skip
    yield CounterMetricFamily(f"{PREFIX}_scheduler_checks_ended",
                              "Checks the scheduler saw end, any verdict (the watchdog's "
                              "sign of progress)", value=live.checks_ended)  # fmt: skip


def mail_families(live: LiveValues) -> Iterator[Metric]:
    if live.mails_sent is None or live.mails_dropped is None:
        return
    family = CounterMetricFamily(f"{PREFIX}_mails", "Alert mails sent, and dropped (queue "
                                 "full, or refused after the retries)", labels=["result"])
    family.add_metric(["sent"], live.mails_sent)
    family.add_metric(["dropped"], live.mails_dropped)
    yield family
