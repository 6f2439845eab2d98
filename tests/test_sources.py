"""The [sources] table: key paths to citations, checked on load, looked up by the most specific
source that covers a value, and without effect on any number."""

from __future__ import annotations

import copy
import pickle
import tomllib

import numpy as np
import pytest
from helpers import FLAGSHIP, REPO, run_cli_in_process, small_deal, write_scenario

import ipabs
from ipabs.errors import ScenarioError
from ipabs.scenario.load import validate
from ipabs.scenario.sources import MAX_CITATION_CHARS, MAX_SOURCES

BEIJING = [
    "zgc_patent_licence_abs_2022",
    "nanshan_ip_pledged_loans_abs_2022",
    "beijing_combined_pledge_loans",
    "beijing_ip_pledge_loan_transfer",
    "beijing_ip_trust",
]


def with_sources(sources: dict, **sections) -> ipabs.Scenario:
    return validate(small_deal(sources=sources, **sections))


def problems(sources: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        with_sources(sources)
    return info.value.render()


# ---------------------------------------------------------------------------------------------
# looking a source up


def test_the_most_specific_source_covers_a_value():
    sc = with_sources(
        {
            "licensees": "the licensee list",
            "licensees[*].annual_default_probability": "rating agency study",
            "licensees[id=L2].annual_default_probability": "L2's own rating",
        }
    )
    # an item's own source beats the list's, which beats the table's
    assert sc.source_for("licensees[id=L2].annual_default_probability") == "L2's own rating"
    assert sc.source_for("licensees[1].annual_default_probability") == "L2's own rating"
    assert sc.source_for("licensees[id=L1].annual_default_probability") == "rating agency study"
    # a key with no source of its own is covered by the table's
    assert sc.source_for("licensees[id=L3].recovery_rate") == "the licensee list"
    assert sc.source_for("licensees") == "the licensee list"
    # a path over several values gives every source that covers one of them, in file order
    assert (
        sc.source_for("licensees[*].annual_default_probability")
        == "rating agency study; L2's own rating"
    )


def test_a_value_without_a_source_is_not_stated():
    sc = with_sources({"assets[type=patent].volatility": "patent pool study"})
    assert sc.source_for("assets[id=P1].volatility") == "patent pool study"
    # the copyright's volatility has no source, so the whole list is not stated
    assert sc.source_for("assets[id=C1].volatility") is None
    assert sc.source_for("assets[*].volatility") is None
    assert sc.source_for("assets[type=patent].growth_rate") is None  # a sibling key
    assert sc.source_for("tranches[*].balance") is None


def test_a_path_that_selects_nothing_has_no_source_and_a_misspelt_one_is_an_error():
    sc = with_sources({"licensees": "the licensee list"})
    assert sc.source_for("loans[*].rate") is None  # a licence pool has no loans
    assert sc.source_for("licensees[id=L9].recovery_rate") is None  # no such licensee
    with pytest.raises(ScenarioError, match="names no key of the scenario format"):
        sc.source_for("licensees[*].recovery")
    with pytest.raises(ScenarioError, match="names no key"):
        sc.source_for("licensee[*].recovery_rate")


def test_a_scenario_without_sources_has_none():
    sc = validate(small_deal())
    assert dict(sc.sources) == {}
    assert sc.source_for("tranches[*].balance") is None


# ---------------------------------------------------------------------------------------------
# checks on load


def test_a_misspelt_key_is_refused_at_its_entry_with_a_suggestion():
    text = problems({"licensees[*].anual_default_probability": "study"})
    assert 'sources."licensees[*].anual_default_probability"' in text
    assert "did you mean 'annual_default_probability'?" in text
    text = problems({"tranche[*].balance": "prospectus"})
    assert 'sources."tranche[*].balance"' in text and "did you mean 'tranches'?" in text
    text = problems({"licensees[idd=L1].recovery_rate": "x"})
    assert "the items have no key 'idd'; did you mean 'id'?" in text


def test_a_selector_that_matches_nothing_is_refused_with_a_suggestion():
    text = problems({"licensees[id=L11].recovery_rate": "x"})
    assert 'sources."licensees[id=L11].recovery_rate"' in text
    assert "no item has id = L11" in text and "did you mean 'L1'?" in text


def test_a_path_must_select_a_value():
    text = problems({"loans[*].balance": "loan tape"})
    assert 'sources."loans[*].balance"' in text and "selects no value" in text
    text = problems({"tranches[7].balance": "x"})
    assert "index out of range: the list has 3 items" in text
    text = problems({"factors.names[id=tech]": "x"})
    assert "[key=value] selects tables of a list" in text
    text = problems({"deal.name!": "x"})
    assert "each part of a path is a key" in text


@pytest.mark.parametrize(
    ("citation", "expected"),
    [
        ("", "the citation is empty"),
        ("   ", "the citation is empty"),
        ("x" * (MAX_CITATION_CHARS + 1), f"a citation is at most {MAX_CITATION_CHARS} characters"),
        ("line one\nline two", "must not contain control characters"),
    ],
)
def test_a_citation_is_short_one_line_text(citation, expected):
    text = problems({"deal.name": citation})
    assert 'sources."deal.name"' in text and expected in text


def test_a_citation_of_the_longest_length_in_any_script_is_accepted():
    sc = with_sources({"deal.name": "x" * MAX_CITATION_CHARS, "tranches": "发行公告，2022年8月"})
    assert sc.source_for("tranches[name=A].coupon") == "发行公告，2022年8月"


def test_a_citation_that_is_not_text_is_refused_at_its_entry():
    text = problems({"deal.name": 2022})
    assert 'sources."deal.name" = 2022' in text and "valid string" in text


def test_a_huge_sources_table_is_refused_in_one_problem():
    table = {f"deal.name{' ' * i}": "x" for i in range(MAX_SOURCES + 1)}  # distinct keys
    text = problems(table)
    assert f"above the limit of {MAX_SOURCES}" in text


def test_the_command_line_reports_a_bad_source_with_exit_code_2(tmp_path):
    path = write_scenario(tmp_path, small_deal())
    with path.open("a") as f:
        f.write('\n[sources]\n"licensees[*].recovery" = "study"\n')
    proc = run_cli_in_process("validate", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert 'sources."licensees[*].recovery"' in " ".join(proc.stderr.split())


# ---------------------------------------------------------------------------------------------
# sources change nothing else


def test_a_scenario_with_sources_stays_frozen_and_hashable():
    sc = with_sources({"tranches[*].balance": "prospectus"})
    with pytest.raises(TypeError):
        sc.sources["deal.name"] = "x"  # type: ignore[index]
    assert hash(sc) == hash(with_sources({"tranches[*].balance": "prospectus"}))
    assert pickle.loads(pickle.dumps(sc)) == sc
    assert copy.deepcopy(sc) == sc
    # a change made through the key-path language keeps the sources
    changed = sc.replace({"tranches[name=A].balance": 17_000_000})
    assert changed.source_for("tranches[name=A].balance") == "prospectus"


def _same_summary(a: ipabs.Results, b: ipabs.Results) -> None:
    x, y = a.summary, b.summary
    assert list(x.columns) == list(y.columns) and list(x.index) == list(y.index)
    for column in x.columns:
        u, v = x[column].to_numpy(), y[column].to_numpy()
        if u.dtype.kind == "f":
            assert u.tobytes() == v.tobytes(), column  # bit for bit, NaN included
        else:
            assert list(u) == list(v), column


def test_sources_change_no_number():
    plain = small_deal(simulation={"paths": 300, "seed": 11})
    cited = copy.deepcopy(plain)
    cited["sources"] = {
        "licensees[*].annual_default_probability": "ILLUSTRATIVE",
        "assets": "licence contracts",
        "tranches[name=A]": "prospectus",
    }
    _same_summary(ipabs.simulate(validate(plain)), ipabs.simulate(validate(cited)))


def test_the_flagship_without_its_sources_gives_the_same_numbers():
    data = tomllib.loads(FLAGSHIP.read_text())
    assert data["sources"], "the flagship cites its sources"
    bare = {k: v for k, v in data.items() if k != "sources"}
    with_src = validate(data, base_dir=FLAGSHIP.parent)
    without = validate(bare, base_dir=FLAGSHIP.parent)
    _same_summary(ipabs.simulate(with_src, paths=500), ipabs.simulate(without, paths=500))


# ---------------------------------------------------------------------------------------------
# the Beijing scenarios cite their public facts and mark the rest


@pytest.mark.parametrize("name", BEIJING)
def test_each_beijing_scenario_has_sources_that_hold(name):
    sc = ipabs.load(REPO / "scenarios" / f"{name}.toml")
    assert len(sc.sources) >= 10
    for path, citation in sc.sources.items():
        assert sc.source_for(path) == citation  # each entry is the most specific on its own path


def test_the_flagship_cites_the_issue_and_marks_its_illustrative_inputs():
    sc = ipabs.load(FLAGSHIP)
    for tranche in ("senior_A", "senior_B"):
        assert "Press coverage" in sc.source_for(f"tranches[name={tranche}].coupon")
    assert "107m" in sc.source_for("tranches[*].balance")
    assert sc.source_for("licensees[*].annual_default_probability").startswith("ILLUSTRATIVE")
    assert sc.source_for("licensees[id=CY07].recovery_rate").startswith("ILLUSTRATIVE")
    assert "second differential payment" in sc.source_for("credit_support[1].covers")
    assert sc.source_for("credit_support[1].provider").startswith("ILLUSTRATIVE")


def test_a_stress_path_with_a_key_selector_on_plain_values_is_a_clear_error():
    """The key-path resolver the sources share with stresses refuses [key=value] on a list of
    plain values (it used to fail with an AttributeError)."""
    sc = validate(small_deal())
    with pytest.raises(ScenarioError, match=r"\[key=value\] selects tables of a list"):
        sc.replace({"factors.names[id=tech]": "x"})
    # and still changes what it selects
    changed = sc.replace({"licensees[*].recovery_rate": 0.5})
    assert np.all([x.recovery_rate == 0.5 for x in changed.licensees])


def test_a_change_that_removes_what_a_source_cites_drops_that_source_only():
    """replace() (and a stress) may remove the item a citation is about: the citation no longer
    applies and is dropped; the others stay. The file's own table is still checked in full."""
    from helpers import REPO

    import ipabs

    sc = ipabs.load(REPO / "scenarios" / "nanshan_ip_pledged_loans_abs_2022.toml")
    cited = "loss_sharing[kind=guarantee].share"
    assert cited in sc.sources
    changed = sc.replace({"loss_sharing": []})
    assert cited not in changed.sources
    assert set(changed.sources) == {p for p in sc.sources if not p.startswith("loss_sharing")}
    assert changed.source_for("loans[*].term_years") == sc.source_for("loans[*].term_years")
