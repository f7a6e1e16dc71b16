"""Data reports: generated research data sets."""
