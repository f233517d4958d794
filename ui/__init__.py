"""The Streamlit chat UI (`qa-bot ui`); `app.py` is the page, the other modules its parts."""
