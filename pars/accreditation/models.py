"""Accreditation cases: self-study, documents, performance-in-practice review, decision."""
