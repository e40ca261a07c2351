"""Generators and maintenance scripts; run each as ``python tools/NAME.py``."""
