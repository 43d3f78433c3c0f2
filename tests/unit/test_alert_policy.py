"""Alert policy, pure, with the clock passed in (spec 5, decisions.md Alerts)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from pyldirectord.config.model import Config, DaemonStatus, Globals, Virtual
from pyldirectord.core.alertpolicy import AlertPolicy, Message, Route, render, split_recipients
from pyldirectord.core.events import EventKind, RealEvent

VIP = Virtual(line=1, family=4, protocol="tcp", host="192.0.2.1", port=80)
G = Globals(emailalert="ops@example.com")


def policy(globals_: Globals = G) -> AlertPolicy:
    return AlertPolicy(globals_, hostname="lb1", user="root")


def ev(kind: EventKind, host: str = "10.0.0.1", virtual: Virtual = VIP) -> RealEvent:
    return RealEvent(kind, virtual, host, 80, 0 if kind in ("quiescent", "deleted") else 1, 0.0)


def test_a_change_alone_in_its_window_is_the_reference_message() -> None:
    p = policy()
    alert = p.event(ev("deleted"), "running", now=10.0)
    assert alert is not None
    assert alert.log_subject == "Deleted real server: 10.0.0.1:80 (192.0.2.1:80)"
    assert p.due(10.99) == []
    assert p.next_deadline() == 11.0
    [message] = p.due(11.0)
    assert message == Message(
        Route(None, ("ops@example.com",)), "root@lb1", "ops@example.com",
        "Deleted real server: 10.0.0.1:80 (192.0.2.1:80)",
        "ldirectord host: lb1\n"
        "Log-Message: Deleted real server: 10.0.0.1:80 (192.0.2.1:80)\n"
        "Daemon-Status: running\n",
    )  # fmt: skip
    assert render(message, date="D", message_id="<m@lb1>") == (
        "From: root@lb1\n"
        "To: ops@example.com\n"
        "Subject: Deleted real server: 10.0.0.1:80 (192.0.2.1:80)\n"
        "Date: D\n"
        "Message-ID: <m@lb1>\n"
        "\n"
        "ldirectord host: lb1\n"
        "Log-Message: Deleted real server: 10.0.0.1:80 (192.0.2.1:80)\n"
        "Daemon-Status: running\n"
    )
    assert p.due(100.0) == [] and p.drain() == []


def test_servicename_prefix_and_details_block() -> None:
    v = replace(VIP, servicename="web", comment='"front end"')
    p = policy(replace(G, emailalertfrom="LVS <lvs@example.com>"))
    alert = p.event(ev("added", virtual=v), "starting", now=0.0)
    assert alert is not None
    assert alert.log_subject == "Added real server: 10.0.0.1:80 (192.0.2.1:80) (Weight set to 1)"
    [message] = p.drain()
    assert message.sender == "LVS <lvs@example.com>"
    assert message.subject == "[web] " + alert.log_subject
    assert message.body == (
        "ldirectord host: lb1\n"
        f"Log-Message: [web] {alert.log_subject}\n"
        "Daemon-Status: starting\n"
        "\n"
        "Service name: web\n"
        'Comment: "front end"\n'
        "\n"
    )


def test_changes_within_one_second_for_the_same_recipients_are_batched() -> None:
    v = replace(VIP, servicename="web")
    p = policy()
    p.event(ev("deleted", "10.0.0.1", v), "running", now=5.0)
    p.event(ev("deleted", "10.0.0.2", v), "running", now=5.5)
    p.event(ev("quiescent", "10.0.0.3", v), "running", now=5.99)
    assert p.due(5.99) == []
    [batch] = p.due(6.0)
    assert batch.alerts == 3
    assert batch.subject == "[web] 3 real server changes on lb1"
    assert batch.body == (
        "ldirectord host: lb1\n"
        "Log-Message: [web] Deleted real server: 10.0.0.1:80 (192.0.2.1:80)\n"
        "Daemon-Status: running\n"
        "\n"
        "Service name: web\n"
        "\n"
        "ldirectord host: lb1\n"
        "Log-Message: [web] Deleted real server: 10.0.0.2:80 (192.0.2.1:80)\n"
        "Daemon-Status: running\n"
        "\n"
        "Service name: web\n"
        "\n"
        "ldirectord host: lb1\n"
        "Log-Message: [web] Quiescent real server: 10.0.0.3:80 (192.0.2.1:80) (Weight set to 0)\n"
        "Daemon-Status: running\n"
        "\n"
        "Service name: web\n"
    )
    p.event(ev("added", "10.0.0.1", v), "running", now=6.2)  # a new window
    [alone] = p.due(7.2)
    assert alone.alerts == 1 and alone.subject.startswith("[web] Added real server")


def test_batches_are_per_recipients_and_mixed_servicenames_drop_the_prefix() -> None:
    other = Virtual(line=9, family=4, protocol="tcp", host="192.0.2.2", port=443,
                    emailalert="web@example.com", servicename="tls")  # fmt: skip
    mixed = replace(VIP, servicename="web")
    p = policy()
    p.event(ev("deleted", virtual=other), "running", now=0.0)
    p.event(ev("deleted", virtual=mixed), "running", now=0.1)
    p.event(ev("deleted", virtual=VIP), "running", now=0.2)
    messages = p.due(2.0)
    assert [(m.route.recipients, m.subject) for m in messages] == [
        (("web@example.com",), "[tls] Deleted real server: 10.0.0.1:80 (192.0.2.2:443)"),
        (("ops@example.com",), "2 real server changes on lb1"),
    ]


def test_recipients_virtual_else_global_each_its_own_rcpt() -> None:
    assert split_recipients("a@example.com, b@example.com,c@example.com") == (
        "a@example.com", "b@example.com", "c@example.com",
    )  # fmt: skip
    assert split_recipients('"Doe, J" <j@example.com>, ops@example.com') == (
        "j@example.com", "ops@example.com",
    )  # fmt: skip
    v = replace(VIP, emailalert="a@example.com,b@example.com", smtp="mail.example.com:2525")
    p = policy()
    p.event(ev("deleted", virtual=v), "running", now=0.0)
    [message] = p.drain()
    assert message.to == "a@example.com,b@example.com"  # the header keeps the list verbatim
    assert message.route == Route("mail.example.com:2525", ("a@example.com", "b@example.com"))
    assert policy(Globals()).event(ev("deleted"), "running", now=0.0) is None


def test_emailalertstatus_filters_but_the_repeat_list_is_updated_first() -> None:
    p = policy(replace(G, emailalertstatus=frozenset({"running"}), emailalertfreq=30))
    assert p.event(ev("deleted"), "starting", now=0.0) is None
    assert p.repeat_keys() == ["10.0.0.1:80 (192.0.2.1:80)"]
    statuses: list[DaemonStatus] = ["starting", "stopping", "reloading"]
    assert all(p.event(ev("quiescent"), s, now=1.0) is None for s in statuses)
    assert p.event(ev("quiescent"), "running", now=2.0) is not None
    # a virtual's own emailalertstatus wins over the global one
    v = replace(VIP, emailalertstatus=frozenset({"stopping"}))
    assert p.event(ev("purged-stop", virtual=v), "stopping", now=3.0) is not None
    assert p.event(ev("added", virtual=v), "running", now=3.0) is None
    # none: the parser's empty set
    none = replace(VIP, emailalertstatus=frozenset())
    assert p.event(ev("deleted", virtual=none), "running", now=4.0) is None


def test_repeats_every_emailalertfreq_until_the_real_comes_back() -> None:
    p = policy(replace(G, emailalertfreq=60))
    p.event(ev("deleted"), "running", now=0.0)
    p.drain()
    assert p.next_deadline() == 60.0
    assert p.repeats_due(59.9, "running") == []
    [repeat] = p.repeats_due(60.0, "running")
    assert repeat.log_subject == "Inaccessible real server: 10.0.0.1:80 (192.0.2.1:80)"
    [message] = p.due(61.0)
    assert message.subject == repeat.log_subject
    assert message.body.startswith("ldirectord host: lb1\nLog-Message: Inaccessible real server")
    assert p.repeats_due(119.0, "running") == []
    assert len(p.repeats_due(120.0, "running")) == 1
    p.event(ev("added"), "running", now=130.0)  # back up: the repeats stop
    assert p.repeat_keys() == []
    assert p.repeats_due(1000.0, "running") == []


def test_repeat_cancel_rules() -> None:
    p = policy(replace(G, emailalertfreq=10))
    for kind in ("quiescent", "deleted"):
        p.event(ev(kind), "running", now=0.0)
        assert p.repeat_keys() == ["10.0.0.1:80 (192.0.2.1:80)"], kind
        p.event(ev("purged-start"), "running", now=0.0)
        assert p.repeat_keys() == []
    p.event(ev("deleted-fallback"), "running", now=0.0)  # fallbacks are never repeated
    assert p.repeat_keys() == []
    no_freq = replace(VIP, emailalertfreq=0)  # the virtual's 0 beats the global 10
    p.event(ev("deleted", virtual=no_freq), "running", now=0.0)
    assert p.repeat_keys() == []


def test_repeats_are_filtered_and_batched_like_changes() -> None:
    p = policy(replace(G, emailalertfreq=5, emailalertstatus=frozenset({"running"})))
    p.event(ev("deleted", "10.0.0.1"), "running", now=0.0)
    p.event(ev("deleted", "10.0.0.2"), "running", now=0.0)
    p.drain()
    assert p.repeats_due(5.0, "reloading") == []  # filtered, but the time is refreshed
    assert p.repeats_due(9.0, "running") == []
    assert len(p.repeats_due(10.0, "running")) == 2
    [batch] = p.due(11.0)
    assert batch.subject == "2 real server changes on lb1"
    assert batch.body.count("Log-Message: Inaccessible real server: ") == 2


def test_reload_rebinds_repeats_by_virtual_id_and_ends_those_of_removed_virtuals() -> None:
    other = Virtual(line=9, family=4, protocol="tcp", host="192.0.2.2", port=80)
    p = policy(replace(G, emailalertfreq=10))
    p.event(ev("deleted"), "running", now=0.0)
    p.event(ev("deleted", virtual=other), "running", now=0.0)
    assert len(p.drain()) == 1
    p.reconfigure(Config("x.cf", replace(G, emailalertfreq=10),
                         (replace(VIP, emailalertfreq=100),)))  # fmt: skip
    assert p.repeat_keys() == ["10.0.0.1:80 (192.0.2.1:80)"]
    assert p.next_deadline() == 100.0
    p.reconfigure(Config("x.cf", G, (VIP,)))  # the global default: no repeats
    assert p.repeat_keys() == []


VIRTUALS = (
    VIP,
    replace(VIP, host="192.0.2.2", servicename="b"),
    replace(VIP, host="192.0.2.3", emailalert="other@example.com"),
    replace(VIP, host="192.0.2.4", emailalertstatus=frozenset({"stopping"})),
)
KINDS: tuple[EventKind, ...] = ("added", "deleted", "quiescent", "purged-start")


def mailed_lines(messages: list[Message]) -> list[tuple[Route, str]]:
    return [
        (m.route, line.removeprefix("Log-Message: "))
        for m in messages
        for line in m.body.splitlines()
        if line.startswith("Log-Message: ")
    ]


STEP = st.tuples(st.sampled_from(KINDS), st.integers(0, 3), st.integers(0, 3), st.floats(0, 2))


@settings(max_examples=200, deadline=None)
@given(st.lists(STEP, max_size=30))
def test_every_accepted_alert_is_mailed_once_in_order_within_its_window(
    steps: list[tuple[EventKind, int, int, float]],
) -> None:
    p = policy()
    now = 0.0
    accepted: list[tuple[Route, str]] = []
    mailed: list[tuple[Route, str]] = []
    for kind, v, host, dt in steps:
        now += dt
        mailed += mailed_lines(p.due(now))
        alert = p.event(ev(kind, f"10.0.0.{host}", VIRTUALS[v]), "running", now)
        if alert is not None:
            accepted.append((alert.route, alert.subject))
            deadline = p.next_deadline()
            assert deadline is not None and deadline <= now + 1.0  # never later than 1 s
    mailed += mailed_lines(p.drain())
    for route in {route for route, _ in accepted + mailed}:
        assert [s for r, s in mailed if r == route] == [s for r, s in accepted if r == route]
    assert p.drain() == [] and p.next_deadline() is None


def test_envelope_sender_survives_a_host_without_a_name() -> None:
    from pyldirectord.core.alertpolicy import mail_domain

    assert mail_domain("director1.example.org") == "director1.example.org"
    assert mail_domain("(none)") == "localhost"
    assert mail_domain("") == "localhost"
