"""/inspect: Inspect is the default page, which Streamlit serves at / only; this hidden page gives it
its own address too and hands over to it with the link's settings."""

import streamlit as st

st.switch_page("views/inspect.py", query_params=st.query_params.to_dict())
