"""The learner pages, by sub-domain: an activity's registrations with recipients
(:mod:`.registrations`), learner completions (:mod:`.completions`), learner files
(:mod:`.uploads`), pre-validation against a recipient's registry (:mod:`.prevalidation`),
webhooks (:mod:`.webhooks`), and the staff view of a provider's completions
(:mod:`.staff`); what they share is in :mod:`.common`.
"""
