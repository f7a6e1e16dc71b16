LEARNER_SAMPLES: dict = {}  # filled by the web UI work
