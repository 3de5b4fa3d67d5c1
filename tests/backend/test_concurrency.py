"""Issue 14 item 3: the flexibility market, consents and retried requests stay correct under concurrent
writers, each with its own connection to one database (a sqlite file, or PostgreSQL).

The interleavings that matter are forced with the fault hook (it runs inside a transaction, before its
commit): one transaction is held open while another tries to run, and the second must wait for the
first's locks (and then see what it committed). Stress tests then run many writers at once and check
the invariants afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from dso_saref.app.seed import SP001, SP002, example_needs, seed
from dso_saref.backend import DsoBackend, ExchangeContext, Outcome, Refused, StateError
from dso_saref.backend.idempotency import IdempotencyKeys
from dso_saref.messages.common import Status
from dso_saref.messages.data_sharing import AuthorizationRequest, MeteringRequest
from dso_saref.messages.flexibility import Acknowledgement, FlexibilityOffer, FlexibilityOffers

from .conftest import NOW

WAIT = 30.0  # seconds: only reached when something is broken


class Pause:
    """A fault hook that holds the transaction ``operation`` open (before its commit) until released."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, operation: str) -> None:
        if operation == self.operation and not self.release.is_set():
            self.reached.set()
            assert self.release.wait(WAIT), "the paused transaction was never released"


def in_thread(function: Callable[[], object]) -> tuple[threading.Thread, list]:
    """Run ``function`` in a thread; the list gets its result or exception."""
    out: list = []

    def run() -> None:
        try:
            out.append(function())
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def blocked(thread: threading.Thread) -> bool:
    """Whether ``thread`` is still waiting after a moment (it should be, behind a lock)."""
    thread.join(timeout=0.5)
    return thread.is_alive()


@pytest.fixture
def market(shared_database):
    """The seeded DSO with its needs published; ``open(hook)`` gives another backend on the same database."""
    backend = DsoBackend(shared_database.open(), clock=lambda: NOW)
    summary = seed(backend)
    backend.publish_needs(example_needs(summary))
    start = summary.start + timedelta(hours=18)

    def offers(*ids: str, price: float = 0.1, quantity: float = 1.0) -> FlexibilityOffers:
        return FlexibilityOffers([FlexibilityOffer(request_id="1", offer_id=i, offer=quantity, price=price,
                                                   start=start, end=start + timedelta(hours=3),
                                                   meter_ids=[summary.meters["LV0001"]]) for i in ids])

    def open_backend(hook=None) -> DsoBackend:
        return DsoBackend(shared_database.open(fault_hook=hook), clock=lambda: NOW)

    return backend, summary, offers, open_backend


def post(backend: DsoBackend, offers: FlexibilityOffers, requester: str = SP001):
    return backend.handlers()["flexibility-offers"](offers, ExchangeContext(requester, NOW))


def assert_market_consistent(backend: DsoBackend, need: str = "1") -> None:
    """No offer of a cleared need is left unconsidered; no slot gets more than the need; every offer
    acknowledged in the registry is stored."""
    record = backend.market.need(need)
    offers = backend.market.offers(need)
    if record.status == "cleared":
        assert all(o.status != "received" for o in offers), [(o.offer.offer_id, o.status) for o in offers]
    allocations = backend.market.allocations(need)
    for a in allocations:
        overlapping = sum(b.quantity for b in allocations if b.start < a.end and a.start < b.end)
        assert overlapping <= record.need.needs + 1e-9
    stored = {o.offer.offer_id for o in offers}
    for entry in backend.registry.entries(operation="flexibility-offers", outcome=Outcome.ACCEPTED):
        assert set(entry.subject.split(",")) <= stored


# -- two offers racing for the same need, and the clearing ------------------------------------------------

def test_hluc10_clearing_waits_for_an_offer_being_stored_and_counts_it(market):
    backend, _, offers, open_backend = market
    pause = Pause("flexibility-offers")
    poster = open_backend(pause)
    offering, acks = in_thread(lambda: post(poster, offers("late")))
    assert pause.reached.wait(WAIT)
    clearing, plans = in_thread(lambda: open_backend().build_activation_plans(["1"]))
    assert blocked(clearing)  # the need is locked by the offer's transaction
    pause.release.set()
    offering.join(WAIT)
    clearing.join(WAIT)
    assert acks[0].status is Status.ACCEPTED and not isinstance(plans[0], Exception)
    assert backend.market.offer("1", "late", "SP001").status == "accepted"
    assert_market_consistent(backend)


def test_hluc10_offers_for_one_need_are_stored_side_by_side(market, shared_database):
    if shared_database.kind == "sqlite":
        pytest.skip("sqlite runs one writer at a time: offers are stored one after the other")
    backend, _, offers, open_backend = market
    pause = Pause("flexibility-offers")
    first, first_acks = in_thread(lambda: post(open_backend(pause), offers("first")))
    assert pause.reached.wait(WAIT)
    # the first offer's transaction holds its lock on the need; another provider's offer does not wait for it
    assert post(open_backend(), offers("second"), SP002).status is Status.ACCEPTED
    assert blocked(first)
    pause.release.set()
    first.join(WAIT)
    assert first_acks[0].status is Status.ACCEPTED
    assert {o.offer.offer_id for o in backend.market.offers("1")} >= {"first", "second"}
    assert_market_consistent(backend)


def test_hluc10_the_same_offer_sent_twice_at_once_is_stored_once(market):
    backend, _, offers, open_backend = market
    pause = Pause("flexibility-offers")
    first, first_acks = in_thread(lambda: post(open_backend(pause), offers("twice")))
    assert pause.reached.wait(WAIT)
    again, again_acks = in_thread(lambda: post(open_backend(), offers("twice")))
    assert blocked(again)  # it waits for the first, then finds it stored
    pause.release.set()
    first.join(WAIT)
    again.join(WAIT)
    assert first_acks[0].status is again_acks[0].status is Status.ACCEPTED
    assert [o.offer.offer_id for o in backend.market.offers("1")].count("twice") == 1
    reasons = [e.reason for e in backend.registry.entries(operation="flexibility-offers", outcome=Outcome.ACCEPTED)
               if e.subject == "twice"]
    assert sorted(reasons) == ["0 new, 1 already received", "1 new, 0 already received"]
    assert_market_consistent(backend)


def test_hluc10_an_offer_arriving_during_clearing_waits_and_is_rejected(market):
    backend, _, offers, open_backend = market
    assert post(backend, offers("early")).status is Status.ACCEPTED
    pause = Pause("activation-plan")
    clearer = open_backend(pause)
    clearing, plans = in_thread(lambda: clearer.build_activation_plans(["1"]))
    assert pause.reached.wait(WAIT)
    offering, acks = in_thread(lambda: post(open_backend(), offers("late")))
    assert blocked(offering)
    pause.release.set()
    clearing.join(WAIT)
    offering.join(WAIT)
    assert [p.recipient for p in plans[0]] == [SP001]
    assert acks[0].status is Status.REJECTED and "already cleared" in acks[0].reason
    assert backend.market.offer("1", "late", "SP001") is None
    assert_market_consistent(backend)


def test_hluc10_many_offers_racing_with_the_clearing_stay_consistent(market):
    backend, _, offers, open_backend = market
    backends = [open_backend() for _ in range(4)]

    def offer(i: int):
        return i, post(backends[i % 4], offers(f"o{i}", price=0.05 + i / 1000), SP001 if i % 2 else SP002)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(offer, i) for i in range(24)]
        plans = pool.submit(lambda: backends[0].build_activation_plans(["1"]))
        results = [f.result() for f in futures]
    assert plans.result()
    stored = {o.offer.offer_id: o.status for o in backend.market.offers("1")}
    for i, ack in results:
        if ack.status is Status.ACCEPTED:
            assert stored[f"o{i}"] in ("accepted", "rejected")  # counted by the clearing
        else:
            assert "already cleared" in ack.reason and f"o{i}" not in stored
    assert_market_consistent(backend)


def test_hluc10_the_same_offer_retried_at_once_is_stored_once(market):
    backend, _, offers, open_backend = market
    backends = [open_backend() for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        acks = list(pool.map(lambda b: post(b, offers("a", "b")), backends * 3))
    assert all(a.status is Status.ACCEPTED for a in acks)
    assert [o.offer.offer_id for o in backend.market.offers("1")] == ["a", "b"]
    reasons = [e.reason for e in backend.registry.entries(operation="flexibility-offers")]
    assert reasons.count("2 new, 0 already received") == 1 and len(reasons) == 12


# -- a consent revoked while metering is read --------------------------------------------------------------

@pytest.fixture
def consented(market):
    """SP001 holding a granted token for U0001's data of 10:00-14:00 of the seed day."""
    backend, summary, _, open_backend = market
    handler = backend.handlers()["authorization-request"]
    start, end = summary.start + timedelta(hours=10), summary.start + timedelta(hours=14)
    handler(AuthorizationRequest(end_user="U0001", start=start, end=end), ExchangeContext(SP001, NOW))
    consent = backend.grant_consent(backend.consents.consents(end_user="U0001")[-1].id)
    request = MeteringRequest(data_type="User", id="U0001", authorization_token=consent.token, granularity=1,
                              start=start, end=end)
    return backend, consent, request, open_backend


def read(backend: DsoBackend, request: MeteringRequest):
    return backend.handlers()["metering-request"](request, ExchangeContext(SP001, NOW))


def served_before_revocation(backend: DsoBackend, token: str) -> None:
    """Every access served under ``token`` was logged (and committed) before the revocation."""
    [revoked] = backend.registry.entries(operation="revoke consent", token=token)
    served = backend.registry.entries(operation="metering-request", outcome=Outcome.SERVED, token=token)
    assert all(s.id < revoked.id for s in served), ([s.id for s in served], revoked.id)


def test_hluc5_a_revocation_waits_for_a_read_under_way(consented):
    backend, consent, request, open_backend = consented
    pause = Pause("metering-request")
    reader = open_backend(pause)
    reading, data = in_thread(lambda: read(reader, request))
    assert pause.reached.wait(WAIT)
    revoking, _ = in_thread(lambda: open_backend().revoke_consent(consent.id))
    assert blocked(revoking)  # the read holds the consent
    pause.release.set()
    reading.join(WAIT)
    revoking.join(WAIT)
    assert len(data[0].root[0].readings) == 16  # served: it committed before the revocation
    served_before_revocation(backend, consent.token)
    with pytest.raises(Refused, match="revoked"):
        read(backend, request)


def test_hluc5_a_read_during_a_revocation_waits_and_is_refused(consented):
    backend, consent, request, open_backend = consented
    pause = Pause("revoke consent")
    revoker = open_backend(pause)
    revoking, _ = in_thread(lambda: revoker.revoke_consent(consent.id))
    assert pause.reached.wait(WAIT)
    reading, data = in_thread(lambda: read(open_backend(), request))
    assert blocked(reading)
    pause.release.set()
    revoking.join(WAIT)
    reading.join(WAIT)
    assert isinstance(data[0], Refused) and "revoked" in data[0].reason
    served_before_revocation(backend, consent.token)


def test_hluc5_reads_racing_with_a_revocation_serve_nothing_after_it(consented):
    backend, consent, request, open_backend = consented
    readers = [open_backend() for _ in range(3)]
    revoked = threading.Event()

    def keep_reading(reader: DsoBackend) -> list[str]:
        outcomes = []
        for _ in range(40):
            after = revoked.is_set()
            try:
                read(reader, request)
                outcomes.append("after" if after else "served")
            except Refused:
                outcomes.append("refused")
        return outcomes

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(keep_reading, r) for r in readers]
        open_backend().revoke_consent(consent.id)
        revoked.set()
        outcomes = [o for f in futures for o in f.result()]
    assert "after" not in outcomes  # no read started after the revocation returned was served
    served_before_revocation(backend, consent.token)


# -- a retried POST with the same idempotency key ----------------------------------------------------------

def test_a_retried_post_with_the_same_key_is_applied_once(market):
    backend, _, offers, open_backend = market
    backends = [open_backend() for _ in range(4)]

    def send(b: DsoBackend):
        handler = b.handlers()["flexibility-offers"]
        return IdempotencyKeys(b.storage).handle("flexibility-offers", handler, offers("k1"),
                                                 ExchangeContext(SP001, NOW), answer=Acknowledgement, key="req-1")

    with ThreadPoolExecutor(4) as pool:
        acks = list(pool.map(send, backends * 2))
    assert {a.model_dump_json() for a in acks} == {acks[0].model_dump_json()}
    assert acks[0].status is Status.ACCEPTED
    assert len(backend.registry.entries(operation="flexibility-offers")) == 1  # applied once, answered 8 times
    with pytest.raises(StateError, match="another request"):
        send_other = backend.handlers()["flexibility-offers"]
        IdempotencyKeys(backend.storage).handle("flexibility-offers", send_other, offers("k2"),
                                                ExchangeContext(SP001, NOW), answer=Acknowledgement, key="req-1")
    # another requester has keys of its own
    other = IdempotencyKeys(backend.storage).handle("flexibility-offers", backend.handlers()["flexibility-offers"],
                                                    offers("k1"), ExchangeContext(SP002, NOW), answer=Acknowledgement,
                                                    key="req-1")
    assert other.status is Status.ACCEPTED
