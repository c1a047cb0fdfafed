"""workers package of nasbench."""
