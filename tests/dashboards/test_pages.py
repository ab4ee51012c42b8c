"""AppTest: every page renders for every role that has it, shows the sample's figures, and a role only gets its
own sections. The login form works against the accounts file."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.reporting.scope import Viewer
from tests.dashboards.conftest import PASSWORD

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
PAGES = {  # role -> pages it gets
    "gcs": ["rollout", "finance", "proposals", "regional", "operator", "quality", "opinions"],
    "finance": ["finance", "proposals", "quality"],
    "ars": ["regional"],
    "operator": ["rollout", "operator", "quality"],
    "establishment:750238172": ["establishment", "opinions"],  # a pilot establishment gets the tele-opinions too
}
EXPECTED = {  # page -> (metric label, value) from the sample
    "rollout": ("En production", "10"),
    # drafts at the revised prices: January-March 2012 x 1.0238, April-December x 1.0419 (docs/billing.md), less the
    # sample's one service-level credit (-93.77 on 750238172's August invoice, docs/service-levels.md): the total of
    # the drafts `sansfilm demo` writes
    "finance": ("Total HT sur la période", "348\u202f515,91\u202f€"),
    # the same drafts and issued January, each month's own lines (the service-level credit is not a tariff effect)
    "proposals": ("Facturé ou rédigé (tarif actuel)", "348\u202f609,68\u202f€"),
    "regional": ("Examens sur la période", "479"),
    # 3 740 414 bytes stored on 31 December, the tele-opinion pilot's 14 SR reports (13 770 bytes) included
    "operator": ("Stocké fin déc. 2012", "3,74 Mo"),
    "quality": ("Examens non attribués sur la période", "16"),
    "establishment": ("Examens archivés", "113"),
    # November and December 2012: 5 + 3 requests a month in the pilot's two pairs (sansfilm opinions), Saint-Éloi
    # in both
    "opinions": ("Demandes", "16"),
}


@pytest.fixture
def app(published, accounts_file, monkeypatch):
    monkeypatch.setenv("SANSFILM_CONFIG", str(published.config_path))
    monkeypatch.setenv("SANSFILM_ACCOUNTS", accounts_file)

    def make(role: str | None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        if role:
            at.session_state["viewer"] = Viewer("test", role)
        return at.run()

    return make


def shown_metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("role,page", [(r, p) for r, pages in PAGES.items() for p in pages])
def test_page_renders_with_the_sample_figures(app, role, page):
    at = app(role)
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    label, value = EXPECTED[page]
    if role == "establishment:750238172" or page != "finance":
        assert shown_metrics(at).get(label) == value, shown_metrics(at)
    assert at.get("plotly_chart") or at.dataframe


def test_a_role_gets_only_its_sections(app):
    ars = app("ars")
    with pytest.raises(Exception):  # noqa: B017  (not in its navigation: whatever AppTest raises for that)
        ars.switch_page("pages/finance.py").run()
    titles = [page["page_name"] for page in ars.get("navigation")[0].proto.app_pages] if ars.get("navigation") else []
    assert not [t for t in titles if "finance" in t]


def test_ars_sees_suppressed_cells_and_no_money(app):
    at = app("ars")
    text = " ".join(str(getattr(e, "value", "")) for e in at.caption)
    assert "moins de 10" in text
    assert "€" not in " ".join(shown_metrics(at).values())


def test_establishment_page_shows_only_its_own_invoices(app):
    at = app("establishment:750238172")
    assert shown_metrics(at)["Factures émises / brouillons"] == "1 / 11"
    assert not [s for s in at.selectbox if s.key == "mine_pick_establishment"]  # no picker offering one choice
    assert len(at.selectbox(key="mine_pick").options) == 12  # its invoice of each month, issued or draft


def test_login_form(app):
    at = app(None)
    assert at.text_input(key="login_name")
    at.text_input(key="login_name").input("finance")
    at.text_input(key="login_password").input("wrong")
    at.button[0].click().run()
    assert at.error and "incorrect" in at.error[0].value
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    assert at.session_state["viewer"].role == "finance"
    assert "Total HT sur la période" in shown_metrics(at)  # the role's first page, drawn in the login's own run
    assert "login_password" not in at.session_state or at.session_state["login_password"] == ""  # not kept


def test_operator_page_shows_the_sample_missed_service_level(app):
    """The sample misses one level: 750238172's retrievals in July 2012 (1 failed of 3, docs/service-levels.md)."""
    at = app("operator")
    at.switch_page("pages/operator.py").run()
    assert shown_metrics(at).get("Niveaux manqués sur la période") == "1", shown_metrics(at)
    # the missed levels are listed (every level measured is a download: a region has thousands)
    missed = next(t for t in shown_tables(at) if "mesuré" in t.columns)
    assert [(r["FINESS"], r["mois"], r["engagement"]) for _, r in missed.iterrows()] == [
        ("750238172", "juil. 2012", "taux d'échec des récupérations")
    ]
    per_month = next(t for t in shown_tables(at) if "niveaux mesurés" in t.columns)
    assert sorted(set(per_month["manqués" if "manqués" in per_month.columns else "manqué"])) == ["0", "1"]


def shown_tables(at: AppTest) -> list:
    return [frame.value for frame in at.dataframe]


def test_rollout_shows_the_framework_agreement_with_money_for_the_gcs_only(app):
    gcs = app("gcs")
    gcs.switch_page("pages/rollout.py").run()
    assert not gcs.exception
    metrics = shown_metrics(gcs)
    # the sample's data ends in December 2012: as of 2013-01-01, 27 months still to bill (January 2013 to March 2015)
    assert (metrics["Fin de l'accord-cadre"], metrics["Mois restants"], metrics["Situation"]) == (
        "31/03/2015",
        "27",
        "en vigueur",
    )
    ceiling = next(t for t in shown_tables(gcs) if "plafond" in t.columns)
    assert list(ceiling["mesure"]) == ["montant HT (€)", "examens archivés"]
    commitments = next(t for t in shown_tables(gcs) if "examens engagés / an" in t.columns)
    assert len(commitments) == 12 and "montant réalisé" in commitments.columns
    operator = app("operator")
    operator.switch_page("pages/rollout.py").run()
    ceiling = next(t for t in shown_tables(operator) if "plafond" in t.columns)
    assert list(ceiling["mesure"]) == ["examens archivés"]
    commitments = next(t for t in shown_tables(operator) if "examens engagés / an" in t.columns)
    assert not [c for c in commitments.columns if "montant" in c]


def _invoice_table(at: AppTest):
    return next(t for t in shown_tables(at) if "numéro" in t.columns)


def test_finance_lists_one_month_of_invoices_at_a_time(app):
    """A regional year is thousands of invoices: the table shows the chosen month (the last by default), the whole
    period is a CSV download; an establishment's own page lists all its invoices at once."""
    import polars as pl

    from analytics.reporting import exports

    at = app("finance")
    at.switch_page("pages/finance.py").run()
    month = at.selectbox(key="finance_month")
    assert month.value == "2012-12" and month.options[0] == "janv. 2012"
    listed, _ = shown_metrics(at)["Factures émises / brouillons"].split(" / ")
    december = _invoice_table(at)
    assert set(december["mois"]) == {"déc. 2012"} and len(december) >= 10
    month.set_value("2012-01").run()
    january = _invoice_table(at)
    assert set(january["mois"]) == {"janv. 2012"} and len(january) == int(listed)  # January is the issued month
    assert set(january["numéro"]) != {""}
    invoices = pl.DataFrame({"month": ["2012-01", "2012-02"], "establishment_id": ["1", "2"], "net": [1234.5, None]})
    typed = exports.columns(invoices, money=("net",), labels={"month": "mois", "establishment_id": "FINESS"})
    assert exports.csv_text(typed).splitlines() == [
        "\ufeffmois;FINESS;net (€)",
        "janv. 2012;1;1234,50",
        "févr. 2012;2;",
    ]
    mine = app("establishment:750238172")
    mine.switch_page("pages/establishment.py").run()
    assert not [box for box in mine.selectbox if box.key == "mine_month"]
    assert len(_invoice_table(mine)) == 12


def test_one_definition_of_the_months_left(app):
    """The Déploiement page's « Mois restants » is the number of months the ceiling's projection adds (27 on the
    sample: January 2013 to March 2015), not one more or less."""
    at = app("gcs")
    at.switch_page("pages/rollout.py").run()
    ceiling = [d.value for d in at.dataframe if "mois projetés" in d.value.columns][0]
    assert shown_metrics(at)["Mois restants"] == "27" == str(ceiling["mois projetés"].iloc[0])


PLANNED_SITES = 12  # every site of the sample has a planned go-live (contracts/establishments.csv)


def test_the_s_curve_splits_by_offer_and_by_departement(app):
    """Issue 14: sites live vs planned over time, by offer and by département, each split adding up to the
    programme's counts month by month."""
    at = app("gcs")
    at.switch_page("pages/rollout.py").run()
    by_offer = next(t for t in shown_tables(at) if "offre" in t.columns and "sites prévus (cumul)" in t.columns)
    at.segmented_control(key="rollout_curve_by").set_value("departement").run()
    assert not at.exception
    by_dep = next(t for t in shown_tables(at) if "département" in t.columns and "sites prévus (cumul)" in t.columns)
    assert set(by_offer["offre"]) <= {"PACS + RIS", "PACS seul", "archivage neutre (VNA)"}  # French labels
    assert by_offer["offre"].nunique() >= 2 and by_dep["département"].nunique() >= 2
    assert all(" · " in d for d in by_dep["département"])  # "94 · Val-de-Marne": code and name

    def totals(table, column: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, row in table.iterrows():
            out[row["mois"]] = out.get(row["mois"], 0) + int(row[column])
        return out

    for column in ("sites prévus (cumul)", "sites en production (cumul)"):
        known = by_offer[by_offer[column] != "–"]
        assert totals(known, column) == totals(by_dep[by_dep[column] != "–"], column)
    assert max(totals(by_offer, "sites prévus (cumul)").values()) == PLANNED_SITES


def test_failures_per_site_and_per_month_are_counts(app):
    at = app("operator")
    at.switch_page("pages/operator.py").run()
    per_site = next(t for t in shown_tables(at) if "taux d'échec" in t.columns and "établissement" in t.columns)
    per_month = next(t for t in shown_tables(at) if "échecs" in t.columns and "mois" in t.columns)
    assert per_site["échecs"].str.fullmatch(r"\d+").all() and per_month["échecs"].str.fullmatch(r"\d+").all()
    site_total = sum(int(v) for v in per_site["échecs"])
    assert site_total == sum(int(v) for v in per_month["échecs"]) > 0  # the same failures, two ways
    assert per_site["établissement"].is_unique
