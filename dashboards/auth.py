"""Who is logged in: Streamlit's OIDC login when `[auth]` is configured in secrets, else the local accounts file.

Either way the role comes from the accounts file (`sansfilm users add`); an OIDC user is looked up by e-mail.
"""

from __future__ import annotations

import streamlit as st

from analytics.accounts import accounts_path, authenticate, load_accounts
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
    if st.session_state.pop("login_refused", False):
        st.error("Identifiant ou mot de passe incorrect.")
    _preload()


# Out of sight (hidden, not focusable, no space taken), one element of each kind the pages draw: a new browser tab
# fetches and compiles each kind's code the first time one is drawn (the charts' alone is megabytes, ~1 s here), so
# the login page has it done while the password is typed instead of after the click (docs/benchmarks.md).
PRELOAD_CSS = ("<style>.st-key-preload{position:absolute;visibility:hidden;height:0;overflow:hidden;"
               "pointer-events:none}</style>")  # fmt: skip


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


def _check_password() -> None:
    """The login button's callback: it runs before the script, so an accepted login renders the role's first page in
    the same run (no second run of the whole app after the form's)."""
    name, password = st.session_state.get("login_name", ""), st.session_state.get("login_password", "")
    st.session_state["login_password"] = ""  # never kept in the session
    account = authenticate(accounts_path(data.settings().root), name, password)
    if account is None:
        st.session_state["login_refused"] = True
    else:
        st.session_state["viewer"] = Viewer(account.name, account.role)


def logout() -> None:
    st.session_state.pop("viewer", None)
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()
