DATAREPORTS_SAMPLES: dict = {}  # filled by the datareports work
