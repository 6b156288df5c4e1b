"""Streamlit dashboard: a router in `app.py` and one module per page in `views/`."""
