"""Who is logged in: Streamlit's OIDC login when `[auth]` is configured in secrets, else the local accounts file.

Either way the role comes from the accounts file (`sansfilm users add`); an OIDC user is looked up by e-mail.
"""

from __future__ import annotations

import math

import streamlit as st

from analytics.accounts import accounts_path, load_accounts
from analytics.accounts.logins import LoginGuard, Outcome
from analytics.reporting.scope import Viewer
from dashboards import data


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def current_viewer() -> Viewer | None:
    viewer = st.session_state.get("viewer")
    if viewer is not None:
        return viewer
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        account = load_accounts(accounts_path(data.settings().root)).get(str(st.user.get("email", "")))
        if account is not None:
            st.session_state["viewer"] = Viewer(account.name, account.role)
            return st.session_state["viewer"]
    return None


def login_page() -> None:
    st.title("sansfilm · tableaux de bord")
    st.caption("Région sans film · Île-de-France")
    if oidc_configured():
        if getattr(st.user, "is_logged_in", False):
            st.error(f"{st.user.get('email')} n'a pas de rôle : demandez à l'administrateur (sansfilm users add).")
            st.button("Se déconnecter", on_click=st.logout)
        else:
            st.button("Se connecter avec le fournisseur d'identité", on_click=st.login, type="primary")
        st.divider()
    with st.form("login"):
        st.text_input("Identifiant", key="login_name")
        st.text_input("Mot de passe", type="password", key="login_password")
        st.form_submit_button("Se connecter", on_click=_check_password)
    refused = st.session_state.pop("login_refused", None)
    if refused:
        st.error(refused)
    _preload()


# Out of sight (hidden, not focusable, no space taken), one element of each kind the pages draw: a new browser tab
# fetches and compiles each kind's code the first time one is drawn (the charts' alone is megabytes, ~1 s here), so
# the login page has it done while the password is typed instead of after the click (docs/benchmarks.md).
PRELOAD_CSS = (
    "<style>.st-key-preload{position:absolute;visibility:hidden;height:0;overflow:hidden;pointer-events:none}</style>"
)


def _preload() -> None:
    import plotly.graph_objects as go
    import polars as pl

    st.html(PRELOAD_CSS)
    with st.container(key="preload"):
        tabs = st.tabs(["-"])
        with tabs[0]:
            st.plotly_chart(go.Figure(go.Bar(x=[1], y=[1])), key="preload_chart", config={"displaylogo": False})
        st.dataframe(pl.DataFrame({"-": [1]}), key="preload_table", hide_index=True)
        st.metric("-", "0")
        st.selectbox("-", ["-"], key="preload_select")
        st.select_slider("-", options=["-", "--"], key="preload_slider")
        st.download_button("-", b"", file_name="-.csv", key="preload_download")


def guard() -> LoginGuard:
    settings = data.settings()
    return LoginGuard(accounts_path(settings.root), settings.accounts)


def client_key() -> str:
    """Who is trying, for the per-client back-off: the peer's address; behind the reverse proxy on this machine (a
    loopback peer, for which Streamlit gives no address) the address nginx puts in X-Real-IP (deploy/nginx)."""
    address = st.context.ip_address
    if isinstance(address, str) and address:
        return address
    forwarded = st.context.headers.get("X-Real-IP")
    return forwarded if isinstance(forwarded, str) and forwarded else "loopback"


def _check_password() -> None:
    """The login button's callback: it runs before the script, so an accepted login renders the role's first page in
    the same run (no second run of the whole app after the form's). Failures are slowed, then locked
    (analytics/accounts/logins.py); the messages are the same for unknown and known names."""
    name, password = st.session_state.get("login_name", ""), st.session_state.get("login_password", "")
    st.session_state["login_password"] = ""  # never kept in the session
    attempt = guard().attempt(name, password, client_key())
    if attempt.outcome is Outcome.ACCEPTED:
        st.session_state["viewer"] = Viewer(attempt.account.name, attempt.account.role)
    elif attempt.outcome is Outcome.LOCKED:
        st.session_state["login_refused"] = (
            "Compte verrouillé après trop d'échecs : demandez à l'administrateur "
            "de le déverrouiller (sansfilm users unlock)."
        )
    elif attempt.outcome is Outcome.TOO_SOON:
        st.session_state["login_refused"] = f"Trop d'échecs : réessayez dans {math.ceil(attempt.retry_after)} s."
    else:
        st.session_state["login_refused"] = "Identifiant ou mot de passe incorrect."


def logout() -> None:
    st.session_state.pop("viewer", None)
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()
