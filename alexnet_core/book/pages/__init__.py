"""One module per page of the book (its sentences, tables and figures), the shared chapter
machinery and the plot style; every computation a notebook shows lives here, tested."""
