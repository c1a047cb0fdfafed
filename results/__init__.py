"""results package of nasbench."""
