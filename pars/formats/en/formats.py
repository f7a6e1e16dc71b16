"""The date formats of every page and email (FORMAT_MODULE_PATH): month/day/year, as in
pars.lib.dates. ``{{ day }}``, ``{{ day|date }}`` and ``{{ at|date:"DATETIME_FORMAT" }}``
all print these, so no template spells a format of its own."""

DATE_FORMAT = "m/d/Y"  # 12/31/2026
SHORT_DATE_FORMAT = "m/d/Y"
DATETIME_FORMAT = "m/d/Y H:i"  # 12/31/2026 14:05
SHORT_DATETIME_FORMAT = "m/d/Y H:i"
TIME_FORMAT = "H:i"  # 14:05, as in DATETIME_FORMAT
MONTH_DAY_FORMAT = "m/d"
YEAR_MONTH_FORMAT = "F Y"
