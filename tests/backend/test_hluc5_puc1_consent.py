"""HLUC 5 PUC 1: data access authorization (consent, token) and metering data under the token; the
security properties of spec 3.5 (every access and every refusal in the registry of operations)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dso_saref.backend import ExchangeContext, Outcome, Refused, StateError
from dso_saref.backend.consent import ConsentState
from dso_saref.messages.data_sharing import AuthorizationRequest, MeteringRequest

NOBODY = "https://nobody.example.org/kb"


def authorize(backend, summary, context, user="U0001", hours=(10, 14), grant=True):
    """Ask for access to ``user``'s data between two hours of the seed day and let the user decide."""
    start, end = summary.start + timedelta(hours=hours[0]), summary.start + timedelta(hours=hours[1])
    handler = backend.handlers()["authorization-request"]
    response = handler(AuthorizationRequest(end_user=user, start=start, end=end), context)
    consent = backend.consents.consents(end_user=user)[-1]
    if grant is None:
        return response, consent
    (backend.grant_consent if grant else backend.refuse_consent)(consent.id)
    return handler(AuthorizationRequest(end_user=user, start=start, end=end), context), consent


def meter(backend, context, user, token, start, end, granularity=1):
    request = MeteringRequest(data_type="User", id=user, authorization_token=token, granularity=granularity,
                              start=start, end=end)
    return backend.handlers()["metering-request"](request, context)


def test_hluc5_puc1_authorization_request_creates_a_pending_consent(backend, summary, sp1):
    response, consent = authorize(backend, summary, sp1(), grant=None)
    assert response.granted is False and response.authorization_token is None
    assert "pending" in response.reason
    assert consent.status is ConsentState.PENDING and consent.service_provider == "SP001"
    again, _ = authorize(backend, summary, sp1(), grant=None)
    assert again.granted is False
    assert len(backend.consents.consents(end_user="U0001")) == 1  # asking again does not ask the user twice


def test_hluc5_puc1_granted_consent_yields_a_token_bound_to_user_provider_window(backend, summary, sp1, clock):
    response, consent = authorize(backend, summary, sp1())
    assert response.granted is True
    granted = backend.consents.get(consent.id)
    assert response.authorization_token == granted.token
    assert response.service_provider == "SP001" and response.end_user == "U0001"
    assert (response.start, response.end) == (granted.start, granted.end)
    assert granted.expires_at == clock.now + backend.settings.token_lifetime


def test_hluc5_puc1_metering_served_inside_the_consented_window(backend, summary, sp1):
    response, _ = authorize(backend, summary, sp1())
    start = summary.start + timedelta(hours=10)
    data = meter(backend, sp1(), "U0001", response.authorization_token, start, start + timedelta(hours=1))
    [series] = data.root
    assert series.id == "U0001"
    assert [r.time for r in series.readings] == [start + timedelta(minutes=15 * i) for i in range(4)]
    stored = backend.grid.readings("lv-client-reading", id="LV0001", start=start, end=start + timedelta(hours=1))
    assert [r.measurement for r in series.readings] == pytest.approx(
        [s.active_power_withdrawn - s.active_power_injected for s in stored])
    served = backend.registry.entries(subject="U0001", operation="metering-request", outcome=Outcome.SERVED)
    assert len(served) == 1 and served[0].actor == "SP001" and served[0].token == response.authorization_token


def test_hluc5_puc1_refused_consent_gives_no_token(backend, summary, sp1):
    response, consent = authorize(backend, summary, sp1(), grant=False)
    assert response.granted is False and response.authorization_token is None
    assert backend.consents.get(consent.id).status is ConsentState.REFUSED
    assert backend.registry.entries(subject="U0001", operation="refuse consent")


def test_hluc5_puc1_only_a_pending_consent_can_be_decided(backend, summary, sp1):
    _, consent = authorize(backend, summary, sp1())
    with pytest.raises(StateError):
        backend.grant_consent(consent.id)
    with pytest.raises(StateError):
        backend.refuse_consent(consent.id)


NOT_VALID = "the authorization token does not give access to this end user's data"


@pytest.mark.parametrize(("case", "reason", "answer"), [
    ("other user", "does not cover this end user", NOT_VALID),
    ("other provider", "another service provider", NOT_VALID),
    ("revoked", "revoked", "the consent was revoked by the end user"),
    ("expired", "expired", "the authorization token has expired"),
    ("outside window", "outside the consented window", "the requested window is outside the consented window"),
    ("unknown token", "unknown authorization token", NOT_VALID),
])
def test_spec_3_5_refusals_are_refused_and_logged(backend, summary, sp1, sp2, clock, case, reason, answer):
    """The registry keeps why (``reason``); the requester reads ``answer``, which tells a token that is not
    its own for this end user from nothing (issue 15 item 9)."""
    response, consent = authorize(backend, summary, sp1())
    token = response.authorization_token
    start = summary.start + timedelta(hours=10)
    user, context, window = "U0001", sp1(), (start, start + timedelta(hours=1))
    if case == "other user":
        user = "U0002"  # a token for user A cannot read user B
    elif case == "other provider":
        context = sp2()  # a provider cannot use another provider's token
    elif case == "revoked":
        backend.revoke_consent(consent.id)
    elif case == "expired":
        clock.advance(seconds=backend.settings.token_lifetime.total_seconds())
        context = sp1()
    elif case == "outside window":
        window = (start, start + timedelta(hours=5))
    elif case == "unknown token":
        token = "49d259db-755c-4929-8410-15ede30dbc2d"
    with pytest.raises(Refused) as refused:
        meter(backend, context, user, token, *window)
    assert refused.value.reason == answer and refused.value.code == "no-consent"
    [refusal] = backend.registry.entries(subject=user, operation="metering-request", outcome=Outcome.REFUSED)
    assert reason in refusal.reason and refusal.token == token and refusal.at == context.received_at
    assert not backend.registry.entries(subject=user, operation="metering-request", outcome=Outcome.SERVED)


def test_spec_3_5_revocation_takes_effect_at_once(backend, summary, sp1):
    response, consent = authorize(backend, summary, sp1())
    start = summary.start + timedelta(hours=10)
    meter(backend, sp1(), "U0001", response.authorization_token, start, start + timedelta(hours=1))
    backend.revoke_consent(consent.id)
    with pytest.raises(Refused, match="revoked"):
        meter(backend, sp1(), "U0001", response.authorization_token, start, start + timedelta(hours=1))
    with pytest.raises(StateError):
        backend.revoke_consent(consent.id)
    again, _ = authorize(backend, summary, sp1(), grant=None)
    assert again.granted is False  # a new request after revocation asks the end user again
    assert backend.consents.consents(end_user="U0001")[-1].status is ConsentState.PENDING


def test_spec_3_5_expiry_takes_effect_at_the_instant(backend, summary, sp1, clock):
    response, consent = authorize(backend, summary, sp1())
    start = summary.start + timedelta(hours=10)
    clock.now = backend.consents.get(consent.id).expires_at - timedelta(microseconds=1)
    meter(backend, sp1(), "U0001", response.authorization_token, start, start + timedelta(hours=1))
    clock.advance(microseconds=1)
    with pytest.raises(Refused, match="expired"):
        meter(backend, sp1(), "U0001", response.authorization_token, start, start + timedelta(hours=1))
    assert backend.consents.get(consent.id).state(clock.now) is ConsentState.EXPIRED


def test_spec_3_5_unknown_requester_and_mismatched_provider_are_refused_and_logged(backend, summary, clock):
    start = summary.start + timedelta(hours=10)
    handler = backend.handlers()["authorization-request"]
    stranger = handler(AuthorizationRequest(end_user="U0001", start=start, end=start + timedelta(hours=1)),
                       ExchangeContext(NOBODY, clock()))
    assert stranger.granted is False and "no agreement with the DSO" in stranger.reason
    impostor = handler(AuthorizationRequest(end_user="U0001", service_provider="SP002", start=start,
                                            end=start + timedelta(hours=1)),
                       ExchangeContext(summary.providers["SP001"], clock()))
    assert impostor.granted is False and "not the requester" in impostor.reason
    unknown_user = handler(AuthorizationRequest(end_user="U9999", start=start, end=start + timedelta(hours=1)),
                           ExchangeContext(summary.providers["SP001"], clock()))
    assert unknown_user.granted is False and unknown_user.reason == "unknown end user"
    refusals = backend.registry.entries(operation="authorization-request", outcome=Outcome.REFUSED)
    assert [r.actor for r in refusals] == [NOBODY, "SP001", "SP001"]
    assert backend.consents.consents() == []


def test_spec_3_5_registry_records_who_whose_when_which_token_outcome(backend, summary, sp1, clock):
    response, _ = authorize(backend, summary, sp1())
    start = summary.start + timedelta(hours=10)
    meter(backend, sp1(), "U0001", response.authorization_token, start, start + timedelta(hours=1), granularity=2)
    operations = [(op.operation, op.actor, op.subject, op.outcome) for op in backend.registry.entries(subject="U0001")]
    assert operations == [
        ("authorization-request", "SP001", "U0001", Outcome.PENDING),
        ("grant consent", "U0001", "U0001", Outcome.GRANTED),
        ("authorization-request", "SP001", "U0001", Outcome.GRANTED),
        ("metering-request", "SP001", "U0001", Outcome.SERVED),
    ]
    assert all(op.at == clock.now for op in backend.registry.entries(subject="U0001"))
