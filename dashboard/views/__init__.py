"""Dashboard pages; each module is a script that `st.navigation` runs."""
