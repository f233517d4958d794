"""The review queue's page at /review: ui/app.py registers this file with st.navigation, after the
login, and Streamlit runs it when the page is open. The page itself is ui/review.py."""

from ui.review import show_review_page

show_review_page()
