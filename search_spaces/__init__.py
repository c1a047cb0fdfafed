"""search_spaces package of nasbench."""
