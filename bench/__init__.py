"""The performance bench: ``make bench`` runs ``bench/run.py``; see bench/README.md."""
