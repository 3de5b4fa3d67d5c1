"""Reproducible demo data for the reference DSO: one primary substation, two secondary substations, a
feeder of LV households (some with a HEMS, some with PV), one MV client, the grid topology, a day of
15-minute readings of every client and substation, two service providers, a third party (all three with
an agreement with the DSO) and the end users.

Everything random comes from one ``random.Random(seed)``, so the same seed gives the same database::

    backend = DsoBackend(Storage(":memory:"))
    summary = seed(backend, seed=7, day=date(2021, 9, 27))
    summary.households["Z-SS01"]          # ['LV0001', ..., 'LV0010']
    backend.publish_needs(example_needs(summary))

Zone ``Z-SS01`` has 10 households (anonymised data is served), zone ``Z-SS02`` has 4, fewer than the
default k of 5 (anonymised data is refused).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from dso_saref.backend.errors import NotFound
from dso_saref.backend.service import DsoBackend
from dso_saref.messages.flexibility import FlexibilityNeed
from dso_saref.messages.grid_data import (
    GridTopology,
    GridTopologyEntry,
    LvClientReading,
    MvClientReading,
    PrimarySubstationReading,
    SecondarySubstationReading,
)

__all__ = ["DSO_KB", "DSP001", "SP001", "SP002", "THIRD_PARTY", "SeedSummary", "example_needs", "seed", "seed_world"]

#: Knowledge bases of the demo's parties.
DSO_KB = "https://dso.example.org/kb"
DSP001 = "https://dsp001.example.org/kb"
SP001 = "https://sp001.example.org/kb"
SP002 = "https://sp002.example.org/kb"
THIRD_PARTY = "https://third-party.example.org/kb"

_LV = [  # client, secondary substation, SS feeder, postal code, zone, base load kW, PV peak kW, HEMS
    (f"LV{i:04d}", ss, f"{ss}-F{feeder}", postal, f"Z-{ss}", base, pv, hems)
    for i, ss, feeder, postal, base, pv, hems in (
        (1, "SS01", 1, "4405-123", 0.6, 0.0, True), (2, "SS01", 1, "4405-123", 0.8, 0.0, True),
        (3, "SS01", 1, "4405-123", 0.5, 3.0, True), (4, "SS01", 1, "4405-123", 0.9, 0.0, True),
        (5, "SS01", 1, "4405-124", 0.7, 0.0, False), (6, "SS01", 2, "4405-124", 1.1, 0.0, True),
        (7, "SS01", 2, "4405-124", 0.6, 2.5, False), (8, "SS01", 2, "4405-124", 0.4, 0.0, False),
        (9, "SS01", 2, "4405-124", 1.0, 0.0, False), (10, "SS01", 2, "4405-124", 0.8, 0.0, False),
        (11, "SS02", 1, "4200-013", 0.7, 0.0, True), (12, "SS02", 1, "4200-013", 0.5, 3.5, True),
        (13, "SS02", 1, "4200-013", 0.9, 0.0, False), (14, "SS02", 1, "4200-013", 0.6, 0.0, False),
    )
]


@dataclass(frozen=True)
class SeedSummary:
    """What :func:`seed` created: the day, its 15-minute window, the parties and the assets."""

    day: date
    start: datetime
    end: datetime
    providers: dict[str, str]
    end_users: dict[str, str]
    meters: dict[str, str]
    hems: dict[str, str]
    households: dict[str, list[str]] = field(default_factory=dict)
    mv_clients: list[str] = field(default_factory=list)
    postal_codes: dict[str, str] = field(default_factory=dict)


def _shape(hour: float) -> float:
    """A household's daily load shape: a night floor, a morning and a larger evening peak."""
    return 0.5 + 0.6 * math.exp(-((hour - 8.0) ** 2) / 3.0) + 1.2 * math.exp(-((hour - 19.5) ** 2) / 4.0)


def _pv(hour: float) -> float:
    return max(0.0, math.sin(math.pi * (hour - 7.0) / 12.0)) if 7.0 < hour < 19.0 else 0.0


def seed(backend: DsoBackend, *, seed: int = 7, day: date = date(2021, 9, 27)) -> SeedSummary:
    """Fill ``backend`` with the demo grid, parties and a day of readings (see the module doc)."""
    rng = random.Random(seed)
    grid, parties = backend.grid, backend.parties
    parties.register_service_provider("SP001", knowledge_base_id=SP001, name="HEMS aggregator")
    parties.register_service_provider("SP002", knowledge_base_id=SP002, name="Flexibility provider")
    parties.register_service_provider("TP001", knowledge_base_id=THIRD_PARTY, name="Third party")  # an agreement
    grid.add_primary_substation("PS01")
    grid.add_secondary_substation("SS01", postal_code="4405-123")
    grid.add_secondary_substation("SS02", postal_code="4200-013")
    for zone, text in (("Z-SS01", "households of SS01"), ("Z-SS02", "households of SS02")):
        grid.add_zone(zone, description=text)
    topology, end_users, meters, hems, households, postal = [], {}, {}, {}, {}, {}
    for n, (client, ss, ss_feeder, code, zone, _base, _pv_peak, has_hems) in enumerate(_LV, start=1):
        meter = f"M{n:04d}"
        grid.add_client(client, voltage_level="LV", meter_id=meter, postal_code=code, zone_id=zone)
        topology.append(GridTopologyEntry(client_id=client, voltage_level="LV", secondary_substation=ss,
                                          ss_feeder=ss_feeder, primary_substation="PS01", ps_feeder="PS01-F1"))
        user = f"U{n:04d}"
        parties.register_end_user(user, client_id=client)
        end_users[user], meters[client], postal[client] = client, meter, code
        households.setdefault(zone, []).append(client)
        if has_hems:
            hems_id = f"H{n:04d}"
            backend.observability.register_hems(hems_id, provider_id="SP001", postal_code=code, client_id=client)
            hems[hems_id] = client
    grid.add_client("MV0001", voltage_level="MV", meter_id="M0101", postal_code="4405-200")
    topology.append(GridTopologyEntry(client_id="MV0001", voltage_level="MV", primary_substation="PS01",
                                      ps_feeder="PS01-F2"))
    parties.register_end_user("U0101", client_id="MV0001")
    end_users["U0101"], meters["MV0001"], postal["MV0001"] = "MV0001", "M0101", "4405-200"
    grid.record_topology(GridTopology(topology))
    start = datetime.combine(day, time(0), tzinfo=UTC)
    grid.record_readings(_readings(rng, start))
    return SeedSummary(day=day, start=start, end=start + timedelta(days=1),
                       providers={"SP001": SP001, "SP002": SP002}, end_users=end_users, meters=meters, hems=hems,
                       households=households, mv_clients=["MV0001"], postal_codes=postal)


def _readings(rng: random.Random, start: datetime) -> list:
    out: list = []
    for q in range(96):
        ts = start + timedelta(minutes=15 * q)
        hour = (q + 0.5) / 4
        totals: dict[str, list[float]] = {"SS01": [0.0] * 5, "SS02": [0.0] * 5}
        for client, ss, _feeder, _code, _zone, base, pv_peak, _hems in _LV:
            load = base * _shape(hour) * (1 + rng.gauss(0, 0.05))
            generation = pv_peak * _pv(hour) * (1 + rng.gauss(0, 0.03))
            net = load - generation
            withdrawn, injected = max(net, 0.0), max(-net, 0.0)
            reactive = 0.25 * withdrawn
            voltage = 231.0 - 0.9 * net + rng.gauss(0, 0.4)
            out.append(LvClientReading(id=client, timestamp=ts, active_power_injected=round(injected, 3),
                                       active_power_withdrawn=round(withdrawn, 3), reactive_power_injected=0.0,
                                       reactive_power_withdrawn=round(reactive, 3), voltage=round(voltage, 1)))
            acc = totals[ss]
            acc[0] += injected
            acc[1] += withdrawn
            acc[3] += reactive
            acc[4] += voltage
        mv = 120.0 * (0.8 + 0.4 * math.exp(-((hour - 14.0) ** 2) / 8.0)) * (1 + rng.gauss(0, 0.02))
        out.append(MvClientReading(id="MV0001", timestamp=ts, active_power_withdrawn=round(mv, 2),
                                   reactive_power_injected=0.0, reactive_power_withdrawn=round(0.3 * mv, 2)))
        net_kw = mv
        for ss, acc in totals.items():
            count = sum(1 for row in _LV if row[1] == ss)
            injected, withdrawn = acc[0] * 1.02, acc[1] * 1.03
            net_kw += withdrawn - injected
            out.append(SecondarySubstationReading(
                id=ss, timestamp=ts, active_power_injected=round(injected, 3),
                active_power_withdrawn=round(withdrawn, 3), reactive_power_injected=0.0,
                reactive_power_withdrawn=round(acc[3] * 1.03, 3), voltage=round(acc[4] / count + 1.0, 1)))
        mw = net_kw / 1000 + 9.5 + rng.gauss(0, 0.05)  # the rest of the primary's feeders
        mvar = 0.3 * mw
        kv = 15.0 + rng.gauss(0, 0.03)
        current = math.hypot(mw, mvar) * 1000 / (math.sqrt(3) * kv)
        out.append(PrimarySubstationReading(id="PS01", timestamp=ts, active_power=round(mw, 3),
                                            reactive_power=round(mvar, 3), current=round(current, 1),
                                            voltage=round(kv, 2), tap_position=5))
    return out


def example_needs(summary: SeedSummary) -> list[FlexibilityNeed]:
    """Two needs on the seed's day in zone Z-SS01: upward flexibility at the evening peak (meters with a
    HEMS of SS01) and downward flexibility at the PV noon (meters with PV)."""
    at = lambda h: summary.start + timedelta(hours=h)  # noqa: E731
    hems_meters = sorted(summary.meters[c] for c in summary.hems.values() if c in summary.households["Z-SS01"])
    return [
        FlexibilityNeed(request_id="1", needs=4.0, unit="kW", direction="Up", power_type="Active", start=at(18),
                        end=at(21), eligible_clients=hems_meters, zone_id="Z-SS01"),
        FlexibilityNeed(request_id="2", needs=3.0, unit="kW", direction="Down", power_type="Active", start=at(11),
                        end=at(14), eligible_clients=[summary.meters["LV0003"], summary.meters["LV0007"]],
                        zone_id="Z-SS01"),
    ]


def seed_world(backend: DsoBackend, *, seed_value: int = 7, open_needs: bool = False) -> SeedSummary:
    """The reproducible seed (:func:`seed`), the data service provider DSP001 and a
    history: the needs of the seed's day (``H1``, ``H2``), published and cleared, so that flexibility
    historical data has something to show. With ``open_needs`` (``serve --seed``), the same two needs
    (``1``, ``2``) are also published and left open, for service providers to ask for and offer on.
    Safe to run again on the same database."""
    summary = seed(backend, seed=seed_value)
    backend.parties.register_service_provider("DSP001", knowledge_base_id=DSP001, name="Data service provider")
    history = [n.model_copy(update={"request_id": f"H{n.request_id}"}) for n in example_needs(summary)]
    try:
        backend.market.need(history[0].request_id)
    except NotFound:
        backend.market.publish_needs(history, now=summary.start - timedelta(days=1))
        backend.market.build_activation_plans([n.request_id for n in history], now=summary.start)
    if open_needs:
        needs = example_needs(summary)
        try:
            backend.market.need(needs[0].request_id)
        except NotFound:
            backend.market.publish_needs(needs, now=summary.start - timedelta(days=1))
    return summary
