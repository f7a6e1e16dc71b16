REVIEW_SAMPLES: dict = {}  # filled by the review work
