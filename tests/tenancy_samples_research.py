RESEARCH_SAMPLES: dict = {}  # filled by the research work
