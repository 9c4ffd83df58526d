"""The compliance Collector contract (app.compliance.model.Collector): tests every OS's collector
and its checks must pass, fed with the recorded evidence in tests/fixtures/compliance/.

Like keyring's ``BackendBasicTests`` and :mod:`helpers.keystore_contract`: subclass
:class:`CollectorContract` in a test module and set the class attributes::

    class TestMyOs(CollectorContract):
        OS = OS.Linux
        PLATFORM = "linux"              # the sys.platform that chooses this collector
        COLLECTOR = LinuxCollector      # the collector class in backends/compliance/
        MIN_CASES = 4                   # recorded cases each check needs at least
        NOT_APPLICABLE = frozenset()    # checks that are NOT_APPLICABLE on this OS whatever
                                        # the evidence (macOS: "tpm")

        def denied(self, item): ...     # how a read this OS denies looks (default: error
                                        # "permission" on the item)

Recorded bundles are replayed through the runner (``service.evaluate``) both as ``--evidence``
and behind a :class:`ReplayCollector` (the Collector port answering with a recorded bundle), and
each OS check is also called directly, so a check that raises is seen as the bug it is rather
than as the UNKNOWN the registry turns it into. The real collector runs once per class, on this
machine, whatever it is (a collector for another OS finds none of its tools here).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.app.compliance import evidence_io, registry, service
from strongroom.app.compliance.model import (
    OS,
    Check,
    CheckResult,
    CommandEvidence,
    Confidence,
    Evidence,
    EvidenceBundle,
    FileEvidence,
    Policy,
    RegistryEvidence,
    Status,
)
from strongroom.backends.compliance import collector as choose_collector

from helpers.compliance_cases import CHECK_IDS, FIXTURES, NOW, cases, load_bundle

FIRST_SEEN = "state.first-seen"
# What backends/compliance/ writes in an item's ``error`` (runner.py, linux.py).
ERROR_WORDS = ("missing", "timeout", "permission", "directory", "corrupt", "oserror", "EIO",
               "EACCES", "not-windows", "bad-hive")
# How a reason says why a read was lost, by the way it was lost (parsing.unavailable, the Linux
# checks' problem(), the Windows checks' access-denied reading of PowerShell's answer).
LOST_READ_WORDS = {
    "denied": re.compile(r"permission denied|access (?:is )?denied|administrator|admin rights|"
                         r"not permitted", re.IGNORECASE),
    "missing": re.compile(r"not installed|not found|not recognized", re.IGNORECASE),
    "timeout": re.compile(r"timed out", re.IGNORECASE),
}
REGISTRY_TYPES = ("REG_SZ", "REG_DWORD", "REG_EXPAND_SZ", "REG_QWORD", "REG_MULTI_SZ",
                  "REG_BINARY")


@dataclass(frozen=True)
class ReplayCollector:
    """The Collector port answering with a recorded bundle (as a caller of the runner may)."""

    os: OS
    bundle: EvidenceBundle

    def collect(self, only: set[str] | None = None) -> EvidenceBundle:
        return self.bundle


def tool_missing(item: Evidence) -> Evidence:
    """``item`` as if its command were not installed (files and registry values are no tools)."""
    if isinstance(item, CommandEvidence):
        return CommandEvidence(item.argv, None, error="missing")
    return item


def permission_denied(item: Evidence) -> Evidence:
    """``item`` as a read the OS refused."""
    if isinstance(item, CommandEvidence):
        return CommandEvidence(item.argv, None, error="permission")
    if isinstance(item, FileEvidence):
        return FileEvidence(item.path, None, "permission")
    return RegistryEvidence(item.key, item.name, None, None, "permission")


def map_items(bundle: EvidenceBundle, change: Callable[[Evidence], Evidence]) -> EvidenceBundle:
    """Every item changed, except Strongroom's own first-seen memory (not read from the OS)."""
    return replace(bundle, items={k: v if k == FIRST_SEEN else change(v)
                                  for k, v in bundle.items.items()})


def comparable(results: list[CheckResult] | tuple[CheckResult, ...]) -> list[dict[str, Any]]:
    """Results as JSON without their timings (the only part allowed to differ between runs)."""
    out = []
    for r in results:
        obj = r.to_json()
        obj.pop("duration")
        out.append(obj)
    return out


# ----- garbage ---------------------------------------------------------------------------------


def _mangled_text(original: str | None) -> st.SearchStrategy[str]:
    """Text a parser might meet: anything at all, or the recorded text cut, spliced or doubled."""
    anything = st.text(max_size=200)
    json_like = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
        | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                    max_size=4),
        max_leaves=8,
    ).map(json.dumps)
    if not original:
        return st.one_of(anything, json_like)
    n = len(original)
    cut = st.integers(0, n).map(lambda i: original[:i])
    tail = st.integers(0, n).map(lambda i: original[i:])
    spliced = st.tuples(st.integers(0, n), st.text(max_size=20)).map(
        lambda t: original[:t[0]] + t[1] + original[t[0]:])
    return st.one_of(anything, json_like, cut, tail, spliced, st.just(original * 2))


@st.composite
def garbled(draw: st.DrawFn, item: Evidence) -> Evidence:
    """``item`` as a collector could have recorded it on a machine that answers oddly: the tool
    ran and printed something unexpected (any text, or the recorded output cut, spliced or
    doubled, with any exit code), or the read failed with one of the runner's error words."""
    failed = draw(st.booleans())
    error = draw(st.sampled_from(ERROR_WORDS))
    if isinstance(item, CommandEvidence):
        if failed:
            return replace(item, exit_code=None, stdout="", stderr="", error=error)
        return replace(
            item,
            exit_code=draw(st.just(item.exit_code or 0) | st.integers(-255, 255)),
            stdout=draw(_mangled_text(item.stdout)),
            stderr=draw(st.just(item.stderr) | _mangled_text(item.stderr)),
            error=None,
        )
    if isinstance(item, FileEvidence):
        if failed:
            return replace(item, content=None, error=error)
        return replace(item, content=draw(_mangled_text(item.content)), error=None)
    if failed:
        return replace(item, type=None, value=None, error=error)
    value = item.value if isinstance(item.value, str) else None
    return replace(
        item,
        type=draw(st.sampled_from(REGISTRY_TYPES)),
        value=draw(st.integers(-(2**63), 2**64) | _mangled_text(value)),
        error=None,
    )


# ----- the contract ----------------------------------------------------------------------------


class CollectorContract:
    """Mixin: the behaviour every OS's collector and checks show (see the module docstring)."""

    OS: ClassVar[OS]
    PLATFORM: ClassVar[str]
    COLLECTOR: ClassVar[type]
    MIN_CASES: ClassVar[int] = 2
    NOT_APPLICABLE: ClassVar[frozenset[str]] = frozenset()

    def denied(self, item: Evidence) -> Evidence:
        """How a read this OS refuses shows up in the evidence."""
        return permission_denied(item)

    # fixtures ---------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def table(cls) -> Mapping[str, Check]:
        table, why = registry.checks_for(cls.OS)
        assert table is not None, why
        return table

    @pytest.fixture(scope="class")
    @classmethod
    def recorded(cls) -> dict[str, EvidenceBundle]:
        """Every recorded bundle of this OS, by "<check>/<case>"."""
        return {f"{p.parent.parent.parent.name}/{p.parent.name}": load_bundle(p.parent)
                for p in cases(cls.OS.value)}

    @pytest.fixture(scope="class")
    @classmethod
    def collected(cls) -> EvidenceBundle:
        """What the real collector gathers on this machine."""
        return cls.COLLECTOR().collect()

    @pytest.fixture
    def state_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        """The runner's first-seen memory goes to a fresh directory, never the user's."""
        monkeypatch.setenv("STRONGROOM_STATE_DIR", str(tmp_path / "state"))
        return tmp_path / "state"

    # helpers ----------------------------------------------------------------------------------

    def judged(self, table: Mapping[str, Check], bundle: EvidenceBundle,
               now: dt.datetime = NOW) -> list[CheckResult]:
        """Each check of the OS table called directly (a check that raises fails the test)."""
        return [table[check_id](bundle, Policy(), now) for check_id in CHECK_IDS]

    def assert_well_formed(self, table: Mapping[str, Check], result: CheckResult) -> None:
        shown = f"{result.check_id}: {result.status.value} | {result.observed} | {result.reason}"
        assert result.check_id in CHECK_IDS, shown
        assert result.title == table[result.check_id].title and result.title, shown
        assert isinstance(result.status, Status), shown
        assert isinstance(result.confidence, Confidence), shown
        assert result.observed.strip() and result.reason.strip(), shown
        assert "\n" not in result.reason, f"the reason is one line: {shown}"
        assert result.method.strip(), f"every result names its method: {shown}"
        if result.status is Status.Fail:
            assert result.remediation.strip(), f"a FAIL says what to do: {shown}"
        if result.status in (Status.Pass, Status.Fail):
            assert result.evidence_excerpt.strip(), f"a decided result quotes evidence: {shown}"
        if result.status is Status.Pass:
            assert result.remediation == "", f"a PASS asks for nothing: {shown}"
        if result.check_id in self.NOT_APPLICABLE:
            assert result.status is Status.NotApplicable, shown
        json.dumps(result.to_json())

    def assert_unknown(self, results: list[CheckResult], where: str) -> None:
        for r in results:
            expected = (Status.NotApplicable if r.check_id in self.NOT_APPLICABLE
                        else Status.Unknown)
            assert r.status is expected, f"{where}: {r.check_id} {r.status.value}: {r.reason}"

    # the port and the table -------------------------------------------------------------------

    def test_the_collector_is_the_port_for_its_os_and_chosen_for_its_platform(self) -> None:
        chosen = choose_collector(self.PLATFORM)
        assert type(chosen) is self.COLLECTOR
        assert chosen.os is self.OS
        assert callable(chosen.collect)
        status = chosen.available()
        assert isinstance(status.ok, bool)
        assert status.ok or status.reason, "an unavailable collector says why"

    def test_the_table_judges_every_registry_check(self, table: Mapping[str, Check]) -> None:
        assert tuple(registry.CHECK_IDS) == CHECK_IDS
        assert set(table) == set(registry.CHECK_IDS)
        for check_id, check in table.items():
            assert check.id == check_id and check.title

    def test_every_check_has_recorded_cases(self) -> None:
        for check_id in CHECK_IDS:
            found = list((FIXTURES / check_id / self.OS.value).glob("*/expected.json"))
            assert len(found) >= self.MIN_CASES, f"{check_id}: {len(found)} cases"

    # one result per check per run -------------------------------------------------------------

    def test_every_check_gets_exactly_one_result_per_run(
        self, recorded: dict[str, EvidenceBundle], collected: EvidenceBundle, state_dir: Path
    ) -> None:
        empty = EvidenceBundle(self.OS, "", {})
        bundles = {"empty": empty, "collected here": collected, **recorded}
        for name, bundle in bundles.items():
            replayed = service.evaluate(None, Policy(), None, NOW, bundle=bundle)
            assert [r.check_id for r in replayed.results] == list(CHECK_IDS), name
            through = service.evaluate(None, Policy(), None, NOW,
                                       collector=ReplayCollector(self.OS, bundle))
            assert [r.check_id for r in through.results] == list(CHECK_IDS), name
            assert through.exit_code == registry.exit_code(through.results, Policy())
        only = [CHECK_IDS[-1], CHECK_IDS[0]]
        for bundle in (empty, collected):
            run = service.evaluate(None, Policy(), only, NOW,
                                   collector=ReplayCollector(self.OS, bundle))
            assert [r.check_id for r in run.results] == only

    def test_results_carry_evidence_method_and_fix_on_every_recorded_case(
        self, table: Mapping[str, Check], recorded: dict[str, EvidenceBundle]
    ) -> None:
        for bundle in recorded.values():
            for result in self.judged(table, bundle):
                self.assert_well_formed(table, result)

    def test_results_are_deterministic_for_the_same_evidence(
        self, recorded: dict[str, EvidenceBundle], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        for i, (name, bundle) in enumerate(recorded.items()):
            again = evidence_io.bundle_from_json(
                json.loads(json.dumps(evidence_io.bundle_to_json(bundle))))
            assert again == bundle, name
            first = comparable(service.evaluate(None, Policy(), None, NOW, bundle=bundle).results)
            assert comparable(service.evaluate(None, Policy(), None, NOW,
                                               bundle=again).results) == first, name
            # Behind the port, with the first-seen memory the run itself keeps: the same again.
            monkeypatch.setenv("STRONGROOM_STATE_DIR", str(tmp_path / f"state-{i}"))
            runs = [comparable(service.evaluate(None, Policy(), None, NOW,
                                                collector=ReplayCollector(self.OS, b)).results)
                    for b in (bundle, again, bundle)]
            assert runs[0] == runs[1] == runs[2], name

    # missing and unreadable evidence ----------------------------------------------------------

    def test_missing_evidence_is_unknown(self, table: Mapping[str, Check]) -> None:
        results = self.judged(table, EvidenceBundle(self.OS, "", {}))
        self.assert_unknown(results, "no evidence")
        for result in results:
            self.assert_well_formed(table, result)

    def test_every_read_denied_or_every_tool_missing_is_unknown_never_fail(
        self, table: Mapping[str, Check], recorded: dict[str, EvidenceBundle]
    ) -> None:
        """What the collector gathers for each check, and every recorded case, with each read
        refused, or with every tool missing and the other reads refused: UNKNOWN."""
        collector = self.COLLECTOR()
        variants: dict[str, Callable[[Evidence], Evidence]] = {
            "denied": self.denied,
            "tools missing": lambda item: self.denied(item) if not isinstance(
                item, CommandEvidence) else tool_missing(item),
        }
        for check_id in CHECK_IDS:
            gathered = collector.collect({check_id})
            for how, change in variants.items():
                [result] = [r for r in self.judged(table, map_items(gathered, change))
                            if r.check_id == check_id]
                self.assert_unknown([result], f"collected for {check_id}, {how}")
        for name, bundle in recorded.items():
            for how, change in variants.items():
                self.assert_unknown(self.judged(table, map_items(bundle, change)),
                                    f"{name}, {how}")

    def one_read_lost(
        self, table: Mapping[str, Check], recorded: dict[str, EvidenceBundle]
    ) -> Iterator[tuple[str, str, str, Status, CheckResult]]:
        """Each recorded case with one item refused (or its tool missing, or timed out), judged
        again: (case, evidence id, how it was lost, the status before, the result after)."""
        lost: dict[str, Callable[[Evidence], Evidence]] = {
            "denied": self.denied, "missing": tool_missing,
            "timeout": lambda i: CommandEvidence(i.argv, None, error="timeout")
            if isinstance(i, CommandEvidence) else i,
        }
        for name, bundle in recorded.items():
            before = {r.check_id: r.status for r in self.judged(table, bundle)}
            for key, item in bundle.items.items():
                if key == FIRST_SEEN:
                    continue
                for how, change in lost.items():
                    changed = change(item)
                    if changed == item:
                        continue
                    for result in self.judged(table, replace(bundle, items={**bundle.items,
                                                                            key: changed})):
                        yield name, key, how, before[result.check_id], result

    def test_losing_one_read_never_turns_a_result_into_fail(
        self, table: Mapping[str, Check], recorded: dict[str, EvidenceBundle]
    ) -> None:
        """One item of a recorded case refused (or its tool missing, or timed out): a check that
        did not FAIL with it does not FAIL without it (model.py: such evidence is UNKNOWN)."""
        found = [f"{name}: {r.check_id} {before.value} -> FAIL without {key} ({how}): {r.reason}"
                 for name, key, how, before, r in self.one_read_lost(table, recorded)
                 if r.status is Status.Fail and before is not Status.Fail]
        assert not found, f"{len(found)} FAILs from a lost read:\n" + "\n".join(found)

    def test_an_unknown_from_one_lost_read_says_why(
        self, table: Mapping[str, Check], recorded: dict[str, EvidenceBundle]
    ) -> None:
        """A PASS or FAIL that one lost read turns into UNKNOWN says why the read failed
        (permission denied, not installed, timed out), so a person knows what to fix."""
        found = [f"{name}: {r.check_id} {before.value} -> UNKNOWN without {key} ({how}): "
                 f"{r.reason}"
                 for name, key, how, before, r in self.one_read_lost(table, recorded)
                 if r.status is Status.Unknown and before in (Status.Pass, Status.Fail)
                 and not LOST_READ_WORDS[how].search(r.reason)]
        assert not found, f"{len(found)} UNKNOWNs that do not say why:\n" + "\n".join(found)

    # garbage ----------------------------------------------------------------------------------

    def test_garbage_output_never_raises(
        self, table: Mapping[str, Check], recorded: dict[str, EvidenceBundle],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Recorded cases with some outputs cut, spliced, replaced or given odd exit codes, or
        their reads failed: no check raises, every result is well formed, the runner never
        raises."""
        monkeypatch.setenv("STRONGROOM_STATE_DIR", str(tmp_path / "state"))
        names = sorted(recorded)

        @settings(max_examples=300, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(st.data())
        def check(data: st.DataObject) -> None:
            bundle = recorded[data.draw(st.sampled_from(names), label="case")]
            keys = sorted(k for k in bundle.items if k != FIRST_SEEN)
            chosen = data.draw(st.sets(st.sampled_from(keys), min_size=1) if keys
                               else st.just(set()), label="garbled items")
            items = dict(bundle.items)
            for key in sorted(chosen):
                items[key] = data.draw(garbled(items[key]), label=key)
            mangled = replace(bundle, items=items)
            for result in self.judged(table, mangled):
                self.assert_well_formed(table, result)
            run = service.evaluate(None, Policy(), None, NOW,
                                   collector=ReplayCollector(self.OS, mangled))
            assert [r.check_id for r in run.results] == list(CHECK_IDS)

        check()

    # the real collector, here -----------------------------------------------------------------

    def test_the_real_collector_runs_here_without_raising(
        self, table: Mapping[str, Check], collected: EvidenceBundle, state_dir: Path
    ) -> None:
        assert collected.os is self.OS
        assert collected.collected.endswith("Z")
        dt.datetime.fromisoformat(collected.collected.replace("Z", "+00:00"))
        assert collected.host and collected.items
        assert all(isinstance(i, CommandEvidence | FileEvidence | RegistryEvidence)
                   for i in collected.items.values())
        now = dt.datetime.now(dt.UTC)
        results = self.judged(table, collected, now)
        for result in results:
            self.assert_well_formed(table, result)
        if not self.COLLECTOR.available().ok:  # another OS's collector: none of its tools here
            assert not [r for r in results if r.status is Status.Fail], results
        run = service.evaluate(None, Policy(), None, now, collector=self.COLLECTOR())
        assert [r.check_id for r in run.results] == list(CHECK_IDS)
        assert run.bundle.os is self.OS and run.source == service.COLLECTED

    def test_collect_only_gathers_a_subset_that_judges_the_same(
        self, table: Mapping[str, Check], collected: EvidenceBundle
    ) -> None:
        collector = self.COLLECTOR()
        now = dt.datetime.now(dt.UTC)
        full = {r.check_id: r.status for r in self.judged(table, collected, now)}
        for check_id in CHECK_IDS:
            part = collector.collect({check_id})
            assert part.os is self.OS
            assert set(part.items) <= set(collected.items), check_id
            [result] = [r for r in self.judged(table, part, now) if r.check_id == check_id]
            assert result.status is full[check_id], (check_id, result.reason)
