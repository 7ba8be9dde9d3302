"""Parts of the join page and of the start page's join card: setup, views, Compare, the entry card."""
