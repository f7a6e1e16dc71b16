LEARNER_API_SAMPLES: dict = {}  # filled by the API work
