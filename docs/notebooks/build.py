"""Build the example notebooks from the cells below, run them top to bottom and save them with
their outputs: `python docs/notebooks/build.py` (from the repository's root, after
`pip install -e ".[test]"`). tests/test_notebooks.py runs the saved notebooks again in CI."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

TRUST_ANALYST = [
    (
        "md",
        """# Pricing an IP trust: a trust analyst's notebook

The Beijing IP income trust (`scenarios/beijing_ip_trust.toml`, illustrative numbers) pays its
beneficiary classes an expected yield from patent, trademark and copyright licence income. This
notebook runs it, reads the results, tries what-ifs, sweeps a grid and sizes a class. Every
estimate is shown with its standard error; ratings are the grade that the one-sided 95% upper
bound supports (docs/model.md, 6).""",
    ),
    (
        "code",
        """import ipabs

sc = ipabs.load("../../scenarios/beijing_ip_trust.toml")
results = ipabs.simulate(sc, paths=10_000, seed=2025)
results""",
    ),
    (
        "md",
        """`results.summary` has every estimate, one row per class, indexed by class name, rates as
fractions; `results.view()` is the compact table above as numbers, in the units its headers say.""",
    ),
    (
        "code",
        """results.summary.loc["priority_A", ["expected_loss", "expected_loss_se", "distribution_yield_mean", "prob_shortfall"]]""",
    ),
    (
        "code",
        """results.periods[["collections_mean", "collections_p05", "collections_p95"]].round(0)""",
    ),
    ("code", """results.plot_collections();"""),
    (
        "md",
        """## What if licensees default twice as often?

`Scenario.replace` changes values by key path (the stress files' language) and validates the
result as a scenario file is validated; a bad value raises `ScenarioError` naming the key.""",
    ),
    (
        "code",
        """doubled = sc.replace({f"licensees[id={lic.id}].annual_default_probability": 2 * lic.annual_default_probability for lic in sc.licensees})
ipabs.simulate(doubled, paths=10_000, seed=2025)""",
    ),
    (
        "code",
        """try:
    sc.replace({"tranches[name=priority_A].coupon": 3.5})
except ipabs.ScenarioError as err:
    print(err)""",
    ),
    (
        "md",
        """## A grid on common random numbers

Every grid point runs with the same seed and paths, so the differences across it are the
changes' effects, not Monte Carlo noise.""",
    ),
    (
        "code",
        """grid = ipabs.sweep(
    sc,
    {
        "licensees[*].factor_loading": [0.2, 0.4, 0.6],
        "tranches[name=priority_A].balance": [50e6, 60e6],
    },
    paths=5_000,
    seed=2025,
)
grid""",
    ),
    (
        "code",
        """ipabs.plot_sweep(grid[grid.tranche == "priority_B"], "licensees[*].factor_loading", hue="tranches[name=priority_A].balance");""",
    ),
    (
        "md",
        """## How much stress can each class take, and how large can the senior class be?

Without a target, `breakeven` keeps each class at the rating it has unstressed (or no loss where
it has none); `level_means` says what a level is.""",
    ),
    (
        "code",
        """ipabs.breakeven(sc, paths=5_000, stresses=("default_multiplier", "income_haircut"))""",
    ),
    ("code", """ipabs.size(sc, "priority_A", expected_loss=0.005, paths=5_000)"""),
]

LOAN_BOOK = [
    (
        "md",
        """# Buying a book of IP-pledged loans: a transfer pricing notebook

A bank sells the income right on a book of IP-pledged loans (`scenarios/beijing_ip_pledge_loan_transfer.toml`,
illustrative numbers): the buyer receives the loans' cash less a servicing fee, the seller keeps
a share of losses, and a municipal risk compensation fund shares defaults. `ipabs.price` values
the buyer's cash on the same paths as the pool's simulation (docs/model.md, 7).""",
    ),
    (
        "code",
        """import ipabs

sc = ipabs.load("../../scenarios/beijing_ip_pledge_loan_transfer.toml")
priced = ipabs.price(sc, paths=10_000, seed=2025)
priced""",
    ),
    (
        "md",
        """The same book as a direct sale of the loans, on the same paths. A direct sale has no
servicing fee and no seller's share of losses, and `replace` refuses the change until both are
cleared:""",
    ),
    (
        "code",
        """try:
    sc.replace({"transfer.form": "direct"})
except ipabs.ScenarioError as err:
    print(err)""",
    ),
    (
        "code",
        """direct = sc.replace({"transfer.form": "direct", "transfer.servicing_fee": 0.0, "transfer.seller_risk_share": 0.0})
ipabs.price(direct, paths=10_000, seed=2025)""",
    ),
    (
        "md",
        """## Price against the buyer's required yield and the fund's share

Each price runs on the same seed, so the curve is smooth in the yield.""",
    ),
    (
        "code",
        """import pandas as pd

rows = []
for fund_share in (0.0, 0.5):
    for required in (0.03, 0.04, 0.05, 0.06):
        p = ipabs.price(
            sc.replace({"transfer.required_yield": required, "loss_sharing[0].share": fund_share}),
            paths=5_000,
            seed=2025,
        )
        rows.append({"fund share": fund_share, "required yield (%)": 100 * required,
                     "price (% of par)": p.price_pct, "s.e. (% of par)": 100 * p.price_se / p.par})
table = pd.DataFrame(rows)
table.round(3)""",
    ),
    (
        "code",
        """ax = None
for share, part in table.groupby("fund share"):
    ax = part.plot(x="required yield (%)", y="price (% of par)", marker="o", ax=ax, label=f"fund share {share:.0%}")
ax.set_ylabel("price, % of par");""",
    ),
    (
        "md",
        """## The pool behind the price

The book's own simulation: defaults, losses after recovery and loss-sharing, per path.""",
    ),
    (
        "code",
        """results = ipabs.simulate(sc, paths=10_000, seed=2025)
columns = ["expected_loan_defaults", "expected_loan_defaults_se", "expected_loan_gross_loss",
           "expected_loan_net_loss", "expected_loan_net_loss_se", "loan_loss_pct_p99", "loan_loss_pct_p99_se"]
results.pool[columns].T.map("{:,.4g}".format)""",
    ),
]

NOTEBOOKS = {"trust_analyst.ipynb": TRUST_ANALYST, "loan_book_transfer.ipynb": LOAN_BOOK}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        for kind, src in cells
    ]
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 900) -> nbformat.NotebookNode:
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    return nb


def main(names: list[str]) -> None:
    for name, cells in NOTEBOOKS.items():
        if names and name not in names:
            continue
        nb = execute(build(name, cells))
        nbformat.write(nb, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main(sys.argv[1:])
