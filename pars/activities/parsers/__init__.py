"""Parsers turn uploaded activity files into raw activity rows; they check no business rule.

Each yields :class:`~pars.intake.readers.ParsedRow` with the field names of
`pars.activities.dictionary`, plus ``action`` and ``status`` when the format carries
them; a problem with the whole file raises :class:`~pars.intake.readers.FileRejected`.
"""
