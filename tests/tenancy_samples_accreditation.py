ACCREDITATION_SAMPLES: dict = {}  # filled by the accreditation work
