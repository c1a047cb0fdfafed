"""strategies package of nasbench."""
