"""What the report calls the loan kernel's estimates and tables in a pool of leases or
receivables (docs/model.md 3.9-3.10): lessees and leased IP, debtors and receivables, not loans
and borrowers. A pool that mixes kinds keeps the loan words."""

from __future__ import annotations

import pandas as pd

from ipabs.report.i18n import N_

#: pool estimate column -> its label, by the pool's claims word (Scenario.claims_word)
POOL_LABELS = {
    "leases": {
        "expected_loan_defaults": N_("Expected lessee defaults"),
        "expected_loan_recoveries": N_("Expected recoveries from the leased IP"),
        "expected_loan_gross_loss": N_("Expected gross lease loss"),
        "expected_loan_net_loss": N_("Expected net lease loss"),
        "expected_loan_loss_pct": N_("Expected net lease loss, % of lease principal"),
        "loan_loss_pct_p95": N_("Net lease loss, 95th percentile"),
        "loan_loss_pct_p99": N_("Net lease loss, 99th percentile"),
        "loan_loss_pct_p99_9": N_("Net lease loss, 99.9th percentile"),
    },
    "receivables": {
        "expected_loan_defaults": N_("Expected debtor defaults"),
        "expected_loan_recoveries": N_("Expected receivable recoveries"),
        "expected_loan_gross_loss": N_("Expected gross receivable loss"),
        "expected_loan_net_loss": N_("Expected net receivable loss"),
        "expected_loan_loss_pct": N_("Expected net receivable loss, % of receivables"),
        "loan_loss_pct_p95": N_("Net receivable loss, 95th percentile"),
        "loan_loss_pct_p99": N_("Net receivable loss, 99th percentile"),
        "loan_loss_pct_p99_9": N_("Net receivable loss, 99.9th percentile"),
    },
}

#: the stratification tables of leases and receivables: name -> (title, first column, count)
STRATA = {
    "leases_by_lessee": (N_("Leases by lessee"), N_("Lessee"), N_("Leased assets")),
    "leases_by_ip_type": (N_("Leases by leased IP type"), N_("IP type"), N_("Leased assets")),
    "receivables_by_debtor": (N_("Receivables by debtor"), N_("Debtor"), N_("Receivables")),
}


def pool_label(sc, column: str, label: str) -> str:
    return POOL_LABELS.get(sc.claims_word(), {}).get(column, label)


def _table(rows: dict[str, list[float]], key: str, count: str) -> pd.DataFrame:
    from ipabs.report.pool_tables import _table as table

    return table(rows, key, (count, "balance"))


def contract_strata(sc) -> dict[str, pd.DataFrame]:
    """leases_by_lessee (obligor, leased_assets, balance: the financed amount, share),
    leases_by_ip_type (ip_type, leased_assets, balance split evenly over a lease's leased items,
    share), receivables_by_debtor (obligor, receivables, balance: the claim after dilution)."""
    tables: dict[str, pd.DataFrame] = {}
    if sc.leases:
        rows: dict[str, list[float]] = {}
        by_type: dict[str, list[float]] = {}
        type_of = {a.id: a.type.value for a in sc.assets}
        for x in sc.leases:
            row = rows.setdefault(x.lessee or x.id, [0, 0.0])
            row[0] += len(x.leased_assets)
            row[1] += x.financed_amount
            for a in x.leased_assets or ("unspecified",):
                t = by_type.setdefault(type_of.get(a, "unspecified"), [0, 0.0])
                t[0] += a in type_of
                t[1] += x.financed_amount / max(len(x.leased_assets), 1)
        tables["leases_by_lessee"] = _table(rows, "obligor", "leased_assets")
        tables["leases_by_ip_type"] = _table(by_type, "ip_type", "leased_assets")
    if sc.receivables:
        rows = {}
        for x in sc.receivables:
            row = rows.setdefault(x.debtor or x.id, [0, 0.0])
            row[0] += 1
            row[1] += x.face_value * (1.0 - x.dilution)
        tables["receivables_by_debtor"] = _table(rows, "obligor", "receivables")
    return tables


def contract_obligors(sc, factor_of) -> list[pd.DataFrame]:
    """Lessees and debtors for the top obligors table (obligor, balance, share,
    annual_default_probability, factor), each kind's share of its own total. An obligor with
    several leases or receivables shows the default probability and factor of its first."""
    tables = contract_strata(sc)
    frames = []
    for items, name, count in (
        (sc.leases, "leases_by_lessee", "leased_assets"),
        (sc.receivables, "receivables_by_debtor", "receivables"),
    ):
        if not items:
            continue
        first: dict[str, object] = {}
        for x in items:
            first.setdefault(getattr(x, "lessee", None) or getattr(x, "debtor", None) or x.id, x)
        table = tables[name]
        table["annual_default_probability"] = [first[o].annual_default_probability for o in table["obligor"]]  # fmt: skip
        table["factor"] = [factor_of(first[o].factor) for o in table["obligor"]]
        frames.append(table.drop(columns=count))
    return frames
