"""Pattern matching in the KE stand-in (issue 15, item 2), run on demand; prints medians.

1. The adversarial run's blow-up: n disjoint triples plus one, not isomorphic (n + 1 = 11 and 13
   triples froze the old stand-in for 27 s and about an hour). The new matcher's time, beside the old
   factorial one (``dso_saref.patterns.isomorphism``) where that still ends in reasonable time.
2. A 30-triple ASK against 1,000 registered ANSWER interactions whose patterns share its predicates
   (a single triple changed, or the same pattern renamed): the matching alone, in process, and a
   whole ``POST /rest/sc/ask`` over loopback HTTP when none of them matches (so nothing waits for an
   answer).
3. Other requests while one comparison runs long: ``GET /rest/sc`` latency over HTTP while an ASK
   grinds through a large budget (matching runs outside the lock).

::

    python bench/standin_match.py                 # everything (about a minute)
    python bench/standin_match.py --runs 3 --old-up-to 7
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections.abc import Callable

import requests

from dso_saref.ke import EmulatorConfig, EmulatorServer, KnowledgeEngineClient, KnowledgeEngineEmulator, Timeouts
from dso_saref.ke.emulator_match import PatternShape, find_renaming
from dso_saref.ke.emulator_rules import ANSWER, ASK, Interaction, match
from dso_saref.patterns import Pattern, Var, isomorphism, parse

EX = {"ex": "http://example.org/ns#"}
SHRIKHANDES = 100


def median_ms(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times)


def disjoint_plus_one(n: int) -> tuple[Pattern, Pattern]:
    left = " ".join(f"?a{i} ex:p ?b{i} ." for i in range(n)) + " ?a0 ex:q ?b1 ."
    right = " ".join(f"?c{i} ex:p ?d{i} ." for i in range(n)) + " ?c0 ex:q ?d0 ."
    return parse(left, EX), parse(right, EX)


def blow_up(runs: int, old_up_to: int) -> None:
    print("1. n disjoint triples + 1, not isomorphic (ms; new: shapes of both sides + comparison)")
    print(f"{'triples':>8} {'new':>10} {'old':>12}")
    for n in (5, 6, 7, 8, 9, 10, 12, 20, 29, 99):
        left, right = disjoint_plus_one(n)
        new = median_ms(lambda: find_renaming(PatternShape.of([left]), PatternShape.of([right])), runs)  # noqa: B023
        old = f"{median_ms(lambda: isomorphism(left, right), 1):12.1f}" if n <= old_up_to else f"{'-':>12}"  # noqa: B023
        print(f"{n + 1:>8} {new:10.3f} {old}")


def thirty_triples(rnd: random.Random) -> Pattern:
    """A connected 30-triple pattern over a few predicates and classes, like a large KE pattern."""
    names = [Var(f"v{i}") for i in range(18)]
    predicates = [parse(f"?s ex:p{i} ?o .", EX).triples[0][1] for i in range(5)]
    classes = [parse(f"?s a ex:C{i} .", EX).triples[0] for i in range(3)]
    triples: set[tuple[object, object, object]] = set()
    for i in range(1, len(names)):
        triples.add((names[rnd.randrange(i)], rnd.choice(predicates), names[i]))
    while len(triples) < 30:
        if rnd.random() < 0.4:
            _, rdf_type, cls = rnd.choice(classes)
            triples.add((rnd.choice(names), rdf_type, cls))
        else:
            triples.add((rnd.choice(names), rnd.choice(predicates), rnd.choice(names)))
    return Pattern(tuple(triples))  # type: ignore[arg-type]


def variant(pattern: Pattern, rnd: random.Random, *, isomorphic: bool) -> Pattern:
    """``pattern`` renamed and shuffled; unless ``isomorphic``, with one triple's object changed."""
    names = sorted(pattern.variables)
    images = [f"w{i}" for i in range(len(names))]
    rnd.shuffle(images)
    mapping = dict(zip(names, images, strict=True))
    triples = [tuple(Var(mapping[t.name]) if isinstance(t, Var) else t for t in triple) for triple in pattern.triples]
    while not isomorphic:  # until the change cannot be undone by a renaming
        row = rnd.randrange(len(triples))
        s, p, _ = triples[row]
        changed = [*triples[:row], (s, p, Var(rnd.choice(images))), *triples[row + 1:]]
        if len(set(changed)) == len(changed) and find_renaming(
            PatternShape.of([pattern]), PatternShape.of([Pattern(tuple(changed))])  # type: ignore[arg-type]
        ) is None:
            triples = changed
            break
    rnd.shuffle(triples)
    return Pattern(tuple(triples))  # type: ignore[arg-type]


def thousand(runs: int) -> None:
    rnd = random.Random(7)
    asked = thirty_triples(rnd)
    ask = Interaction("http://kb/a/interaction/ask", "http://kb/a", ASK, "ask", pattern=asked)
    for label, isomorphic in (("none matches (one triple changed in each)", False), ("all match (renamed)", True)):
        targets = [Interaction(f"http://kb/b{i}/interaction/answer", f"http://kb/b{i}", ANSWER, "answer",
                               pattern=variant(asked, rnd, isomorphic=isomorphic)) for i in range(1000)]
        began = time.perf_counter()
        for target in targets:
            _ = target.shape
        registering = time.perf_counter() - began

        def all_of_them(targets: list[Interaction] = targets) -> int:
            fresh = Interaction(ask.id, ask.kb_id, ASK, "ask", pattern=asked)  # its shape is computed anew
            return sum(match(fresh, target) is not None for target in targets)

        matched = all_of_them()
        print(f"2. 30-triple ASK vs 1,000 ANSWERs, {label}: {matched} matched; matching "
              f"{median_ms(all_of_them, runs):.1f} ms (shapes at registration: {registering:.2f} ms each)")
    config = EmulatorConfig(handle_timeout=5.0, exchange_timeout=5.0)
    with EmulatorServer(KnowledgeEngineEmulator(config), port=0) as server, KnowledgeEngineClient(
        server.base_url, timeout=Timeouts(read=60, exchange=60)
    ) as ke:
        ke.register_knowledge_base("http://kb.example/a", "a", "asks")
        ask_id = ke.register_ask("http://kb.example/a", asked.to_text())
        began = time.perf_counter()
        for k in range(10):
            kb = f"http://kb.example/b{k}"
            ke.register_knowledge_base(kb, "b", "answers")
            for _ in range(100):
                ke.register_answer(kb, variant(asked, rnd, isomorphic=False).to_text())
        registering = time.perf_counter() - began
        asking = median_ms(lambda: ke.ask("http://kb.example/a", ask_id), runs)
        print(f"   over HTTP: 1,000 KIs registered in {registering:.1f} s; POST /rest/sc/ask (30 triples, "
              f"nothing matches) {asking:.1f} ms")


def lock_free(runs: int) -> None:
    """GET /rest/sc while an ASK spends a large budget on two hard, non-isomorphic patterns."""
    rook = [(r, c) for r in range(4) for c in range(4)]
    rook_edges = [(a, b) for a in rook for b in rook if a != b and (a[0] == b[0] or a[1] == b[1])]
    # the Shrikhande graph: same parameters as the 4x4 rook's graph (colour refinement cannot tell them apart)
    shrikhande = [(a, b) for a in rook for b in rook if a != b and ((b[0] - a[0]) % 4, (b[1] - a[1]) % 4) in
                  {(0, 1), (0, 3), (1, 0), (3, 0), (1, 1), (3, 3)}]

    def text(edges: list[tuple[tuple[int, int], tuple[int, int]]]) -> str:
        return " ".join(f"?n{a[0]}{a[1]} <http://example.org/ns#adj> ?n{b[0]}{b[1]} ." for a, b in edges)

    config = EmulatorConfig(handle_timeout=5.0, exchange_timeout=5.0, match_budget=3_000_000)
    with EmulatorServer(KnowledgeEngineEmulator(config), port=0) as server, KnowledgeEngineClient(
        server.base_url, timeout=Timeouts(read=120, exchange=120)
    ) as ke:
        ke.register_knowledge_base("http://kb.example/a", "a", "asks")
        ke.register_knowledge_base("http://kb.example/b", "b", "answers")
        ask_id = ke.register_ask("http://kb.example/a", text(rook_edges))
        for _ in range(SHRIKHANDES):
            ke.register_answer("http://kb.example/b", text(shrikhande))
        began = time.perf_counter()
        asking = threading.Thread(target=lambda: ke.ask("http://kb.example/a", ask_id))
        asking.start()
        latencies = []
        with requests.Session() as session:
            while asking.is_alive():
                t = time.perf_counter()
                session.get(f"{server.base_url}/sc", timeout=10).raise_for_status()
                latencies.append(1000 * (time.perf_counter() - t))
        asking.join()
        took = time.perf_counter() - began
    print(f"3. an ASK comparing the 4x4 rook's graph with {SHRIKHANDES} Shrikhande graphs (96 triples each) "
          f"took {took:.2f} s; "
          f"meanwhile {len(latencies)} GET /rest/sc: median {statistics.median(latencies):.1f} ms, "
          f"max {max(latencies):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old-up-to", type=int, default=8, help="largest n timed with the old factorial matcher")
    args = parser.parse_args()
    blow_up(args.runs, args.old_up_to)
    thousand(args.runs)
    lock_free(args.runs)


if __name__ == "__main__":
    main()
