"""Tele-opinions and on-call between the pilot's establishments (docs/billing.md, "Tele-opinions and on-call").

`settings` is the `[opinions]` section, `pairs` reads contracts/opinion_pairs.csv, `rules` classifies one request
(on call, answered, unanswered), `facts` writes a month of requests to the warehouse and reads it back, and
`settlement` nets what the establishments owe each other.
"""
